//go:build unix

// Warm spares: a unix-only mechanism (descriptor passing over a socket).

package procs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shmkit/shmkit/shm"
)

type spareArgs struct {
	Seg  *shm.Segment
	V    byte
	Fail bool
}

var spareTouch = Entry("procs.spareTouch", func(ctx context.Context, a spareArgs) error {
	if a.Fail {
		return errors.New("asked to fail")
	}
	a.Seg.Bytes()[0] = a.V
	if Current().Name != "" {
		copy(a.Seg.Bytes()[1:], Current().Name)
	}
	return nil
})

// idleSpare waits for the global set to hold an idle spare and returns its pid.
func idleSpare(t *testing.T) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s := globalSpares.Load()
		s.mu.Lock()
		var pid int
		if len(s.idle) > 0 {
			pid = s.idle[0].p.pid
		}
		s.mu.Unlock()
		if pid != 0 {
			return pid
		}
	}
	t.Fatal("no spare became idle")
	return 0
}

// A start with warm spares hands the entry, its name and an anonymous segment's descriptor to
// a child already running: the child is the spare, and behaves as an exec'd one does.
func TestWarmSpareHandOff(t *testing.T) {
	if err := WarmSpares(1); err != nil {
		t.Fatal(err)
	}
	defer WarmSpares(0)
	seg, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	for i := range 3 {
		pid := idleSpare(t)
		p, err := spareTouch.Start(t.Context(), spareArgs{Seg: seg, V: byte(40 + i)}, WithName(fmt.Sprintf("warm-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitContext(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("warm-%d", i)
		if p.Pid() != pid || seg.Bytes()[0] != byte(40+i) || string(seg.Bytes()[1:1+len(want)]) != want || p.Name() != want {
			t.Fatalf("start %d: pid %d (spare %d), byte %d, child name %q, Name %q", i, p.Pid(), pid, seg.Bytes()[0], seg.Bytes()[1:1+len(want)], p.Name())
		}
	}
	// An entry's error reaches the parent as from an exec'd child.
	pid := idleSpare(t)
	p, err := spareTouch.Start(t.Context(), spareArgs{Seg: seg, Fail: true})
	if err != nil {
		t.Fatal(err)
	}
	var ee *ExitError
	if err := p.WaitContext(t.Context()); !errors.As(err, &ee) || ee.Code != 1 || ee.Message != "asked to fail" || p.Pid() != pid {
		t.Fatalf("a failing entry in a spare: %v", err)
	}
	// Spare(false) and a non-daemon start exec instead.
	pid = idleSpare(t)
	for _, opt := range []Option{Spare(false), Daemon(false)} {
		p, err = spareTouch.Start(t.Context(), spareArgs{Seg: seg, V: 1}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitContext(t.Context()); err != nil || p.Pid() == pid {
			t.Fatalf("a start that may not take a spare: %v, pid %d (spare %d)", err, p.Pid(), pid)
		}
	}
	// The context bounds a handed-off child as it bounds an exec'd one.
	pid = idleSpare(t)
	ctx, cancel := context.WithCancel(t.Context())
	p, err = sleeper.Start(ctx, time.Hour)
	if err != nil || p.Pid() != pid {
		t.Fatalf("sleeper in a spare: %v (pid %d, spare %d)", err, p.Pid(), pid)
	}
	cancel()
	if err := p.WaitContext(t.Context()); err == nil || p.ExitCode() != -15 {
		t.Fatalf("a cancelled spare child: %v, exit code %d", err, p.ExitCode())
	}
}
