package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/shm"
)

func TestUnknownEntryInChild(t *testing.T) {
	p, err := startEntry(t.Context(), "no-such-entry", nil, reflect.ValueOf(struct{}{}))
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitContext(t.Context())
	if !errors.Is(err, ErrUnknownEntry) || !bytes.Contains([]byte(err.Error()), []byte("no-such-entry")) {
		t.Fatalf("%v, want ErrUnknownEntry naming the entry", err)
	}
}

func TestStartWithoutMain(t *testing.T) {
	ep := &EntryPoint[int]{name: "x"}
	mainCalled.Store(false)
	defer mainCalled.Store(true)
	if _, err := ep.Start(context.Background(), 1); !errors.Is(err, ErrNoMain) {
		t.Fatalf("%v, want ErrNoMain", err)
	}
}

var lateSeq atomic.Int64

func TestLateEntry(t *testing.T) {
	// A fresh name each run: -count=N runs this test N times in one process.
	late := Entry(fmt.Sprintf("procs.late-%d", lateSeq.Add(1)), func(context.Context, int) error { return nil })
	if _, err := late.Start(t.Context(), 1); !errors.Is(err, ErrLateEntry) {
		t.Fatalf("%v, want ErrLateEntry", err)
	}
}

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

var sleeper = Entry("procs.spareSleeper", func(ctx context.Context, d time.Duration) error {
	time.Sleep(d)
	return nil
})
