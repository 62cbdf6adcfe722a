package testmain

import (
	"context"
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

// BlockedCheaply must be able to fail: a wait that spins, and one that returns at once, are
// both refused; one that sleeps passes. (The test process has other goroutines, but none that
// burns a tenth of its time.)
func TestBlockedCheaplyTellsSleepFromSpin(t *testing.T) {
	if cpuResolution == 0 && cpuTime() == 0 {
		t.Skip("no CPU clock on this platform")
	}
	const d = 200 * time.Millisecond
	sleep := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	if err := BlockedCheaply(t.Context(), "sleep", d, sleep); err != nil {
		t.Fatal(err)
	}
	spin := func(ctx context.Context) error {
		for ctx.Err() == nil {
		}
		return ctx.Err()
	}
	if err := BlockedCheaply(t.Context(), "spin", d, spin); err == nil || !strings.Contains(err.Error(), "of CPU") {
		t.Fatalf("a spinning wait passed: %v", err)
	}
	done := func(context.Context) error { return nil }
	if err := BlockedCheaply(t.Context(), "done", d, done); err == nil || !strings.Contains(err.Error(), "want context deadline exceeded") {
		t.Fatalf("a wait that returned at once passed: %v", err)
	}
}
