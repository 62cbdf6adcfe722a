package shm_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

// A Segment nobody closed is released when the garbage collector finds it unreachable: its
// liveness lock goes, so the segment turns stale.
func TestForgottenSegmentIsReleased(t *testing.T) {
	name := testmain.Name(t)
	func() {
		s, err := shm.Create(name, 4096)
		if err != nil {
			t.Fatal(err)
		}
		s.Bytes()[0] = 1 // used, then dropped without Close
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		info, err := shm.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Stale {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an unreachable Segment still holds its segment after 5 s of GCs")
		}
	}
}
