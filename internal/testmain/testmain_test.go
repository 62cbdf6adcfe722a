package testmain

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The leak checks must be able to fail: each is shown a leak, then its absence.

func TestSegmentLeakIsSeen(t *testing.T) {
	path := shmDir + "/" + Prefix() + "leak"
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(segments(), Prefix()+"leak") {
		t.Error("a leftover segment was not seen")
	}
	_ = os.Remove(path)
	if len(segments()) != 0 {
		t.Errorf("segments after removal: %v", segments())
	}
}

func TestChildLeakIsSeen(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
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
