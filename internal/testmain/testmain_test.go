package testmain

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/shm"
)

// The leak checks must be able to fail: each is shown a leak, then its absence.

func TestSegmentLeakIsSeen(t *testing.T) {
	name := Name(t)
	s, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(segments(), name) {
		t.Error("a leftover segment was not seen")
	}
	_ = s.Close()
	_ = shm.Remove(name) // Windows has no unlink: there the last Close ended it
	if left := segments(); len(left) != 0 {
		t.Errorf("segments after removal: %v", left)
	}
}

func TestMain(m *testing.M) { Run(m) }

func TestChildLeakIsSeen(t *testing.T) {
	cmd := Self("sleep")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(childPids(), cmd.Process.Pid) {
		t.Error("a running child was not seen")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if slices.Contains(childPids(), cmd.Process.Pid) {
		t.Error("a reaped child is still reported")
	}
}
func TestGoroutineLeakIsSeen(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		<-stop
		close(done)
	}()
	found := false
	for _, g := range goroutines() {
		found = found || strings.Contains(g, "TestGoroutineLeakIsSeen")
	}
	if !found {
		t.Error("a blocked goroutine was not seen")
	}
	close(stop)
	<-done
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		found = false
		for _, g := range goroutines() {
			found = found || strings.Contains(g, "TestGoroutineLeakIsSeen")
		}
		if !found {
			return
		}
	}
	t.Error("a finished goroutine is still reported")
}
