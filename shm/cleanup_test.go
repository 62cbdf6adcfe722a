package shm_test

import (
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

// A Segment nobody closed is released by the garbage collector as far as it safely can be:
// its OnClose hooks run and its file descriptor is closed, but its memory stays mapped (slices
// into it may live on), so it still counts as attached by this process until exit.
func TestForgottenSegmentStaysMapped(t *testing.T) {
	name := testmain.Name(t)
	var released atomic.Bool
	b := func() []byte {
		s, err := shm.Create(name, 4096)
		if err != nil {
			t.Fatal(err)
		}
		s.OnClose(func() { released.Store(true) })
		return s.Bytes() // the Segment is dropped without Close
	}()
	for deadline := time.Now().Add(5 * time.Second); !released.Load(); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if time.Now().After(deadline) {
			t.Fatal("the forgotten Segment was never released")
		}
	}
	b[0] = 1 // still mapped
	if runtime.GOOS == "windows" {
		return // a section cannot be inspected: there is no list of the processes attached
	}
	info, err := shm.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Stale || !slices.Contains(info.Attached, os.Getpid()) {
		t.Fatalf("a forgotten segment whose memory is still mapped here: %+v", info)
	}
}
