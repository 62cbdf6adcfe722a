package sem_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// word returns the uint32 at off in seg, for counters the tests share across processes.
func word(seg *shm.Segment, off int) *uint32 { return (*uint32)(unsafe.Pointer(&seg.Bytes()[off])) }

type admitArgs struct {
	Sem    *sem.Semaphore
	Seg    *shm.Segment // word 64: inside now; word 68: most ever inside
	Rounds int
}

// admit enters the semaphore Rounds times, counting who is inside and the most ever inside.
var admit = procs.Entry("sem.admit", func(ctx context.Context, a admitArgs) error {
	inside, most := word(a.Seg, 64), word(a.Seg, 68)
	for range a.Rounds {
		if err := a.Sem.Acquire(); err != nil {
			return err
		}
		n := atomic.AddUint32(inside, 1)
		for m := atomic.LoadUint32(most); n > m && !atomic.CompareAndSwapUint32(most, m, n); m = atomic.LoadUint32(most) {
		}
		time.Sleep(20 * time.Microsecond)
		atomic.AddUint32(inside, ^uint32(0))
		if err := a.Sem.Release(); err != nil {
			return err
		}
	}
	return nil
})

func TestSemaphoreAdmitsAtMostN(t *testing.T) {
	const n, procsN = 2, 4
	seg := newSegment(t, 4096)
	s := at[sem.Semaphore](t, seg, 0)
	if err := s.ReleaseN(n); err != nil {
		t.Fatal(err)
	}
	testmain.WaitAll(t, testmain.StartN(t, admit, procsN, func(int) admitArgs {
		return admitArgs{Sem: s, Seg: seg, Rounds: 500}
	})...)
	most := atomic.LoadUint32(word(seg, 68))
	if most > n || most == 0 {
		t.Fatalf("at most %d processes were inside at once; the semaphore allows %d", most, n)
	}
	if s.Value() != n {
		t.Fatalf("%d permits left, want %d", s.Value(), n)
	}
	t.Logf("most inside at once: %d of %d", most, n)
}

func TestBoundedSemaphoreOverRelease(t *testing.T) {
	seg := newSegment(t, 64)
	b := at[sem.BoundedSemaphore](t, seg, 0)
	if err := b.Init(2); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(); !errors.Is(err, sem.ErrOverRelease) || b.Value() != 2 {
		t.Fatalf("release of a full bounded semaphore: %v, value %d", err, b.Value())
	}
	if !b.TryAcquire() || b.Value() != 1 {
		t.Fatal("TryAcquire failed")
	}
	if err := b.Release(); err != nil || b.Value() != 2 {
		t.Fatalf("release: %v value %d", err, b.Value())
	}
	if err := b.Init(-1); !errors.Is(err, sem.ErrInvalid) {
		t.Fatalf("Init(-1): %v", err)
	}
}

type barrierArgs struct {
	Barrier     *sem.Barrier
	Seg         *shm.Segment // one uint32 mask per generation from offset 1024; word 600 (past the 528-byte Barrier): generations done
	Generations int          // 0: until the barrier breaks
}

// cross waits at the barrier generation after generation, recording its arrival index.
var cross = procs.Entry("sem.cross", func(ctx context.Context, a barrierArgs) error {
	for g := 0; a.Generations == 0 || g < a.Generations; g++ {
		idx, err := a.Barrier.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("generation %d: %w", g, err)
		}
		if a.Generations > 0 {
			atomic.AddUint32(word(a.Seg, 1024+4*g), 1<<idx)
		}
		atomic.AddUint32(word(a.Seg, 600), 1)
	}
	return nil
})

func TestBarrierGenerations(t *testing.T) {
	const parties, gens = 3, 200
	seg := newSegment(t, 1024+4*gens)
	b := at[sem.Barrier](t, seg, 0)
	if err := b.Init(parties); err != nil {
		t.Fatal(err)
	}
	testmain.WaitAll(t, testmain.StartN(t, cross, parties, func(int) barrierArgs {
		return barrierArgs{Barrier: b, Seg: seg, Generations: gens}
	})...)
	for g := range gens {
		if m := atomic.LoadUint32(word(seg, 1024+4*g)); m != 0b111 {
			t.Fatalf("generation %d: arrival indexes %03b, want each of 0, 1, 2 once", g, m)
		}
	}
}

func TestBarrierBreaksWhenAPartyDies(t *testing.T) {
	b, seg := placedBarrier(t, 3)
	ps := testmain.StartN(t, cross, 3, func(int) barrierArgs { return barrierArgs{Barrier: b, Seg: seg} })
	for atomic.LoadUint32(word(seg, 600)) < 3*20 { // let them cross 20 generations together
		time.Sleep(time.Millisecond)
	}
	_ = ps[0].Kill()
	start := time.Now()
	for _, p := range ps[1:] {
		err := p.WaitContext(t.Context())
		var ee *procs.ExitError
		if !errors.As(err, &ee) || !strings.Contains(ee.Message, sem.ErrBrokenBarrier.Error()) {
			t.Fatalf("survivor ended with %v, want ErrBrokenBarrier", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("survivors took %v to notice", d)
	}
	_ = ps[0].JoinContext(t.Context())
	if !b.Broken() {
		t.Fatal("barrier not marked broken")
	}
	if _, err := b.WaitContext(t.Context()); !errors.Is(err, sem.ErrBrokenBarrier) {
		t.Fatalf("Wait on a broken barrier: %v", err)
	}
	if err := b.Reset(); err != nil || b.Broken() {
		t.Fatal("Reset did not mend the barrier")
	}
}

func TestBarrierTimeoutBreaksIt(t *testing.T) {
	b, _ := placedBarrier(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.WaitContext(ctx)
	if !errors.Is(err, sem.ErrBrokenBarrier) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v, want ErrBrokenBarrier and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 ms timeout took %v", d)
	}
	var zero sem.Barrier
	if _, err := zero.WaitContext(t.Context()); !errors.Is(err, sem.ErrInvalid) {
		t.Fatalf("Wait on an uninitialised barrier: %v", err)
	}
	if err := zero.Init(0); !errors.Is(err, sem.ErrInvalid) {
		t.Fatalf("Init(0): %v", err)
	}
}

type waitArgs struct {
	Event *sem.Event
	Lock  *sem.Mutex
	Cond  *sem.Cond
	Seg   *shm.Segment // word 64: waiting; word 68: woken; word 72: the condition's flag
	Mode  string       // "event" or "cond"
}

// waitFor announces itself, then waits for the event, or on the condition for the flag.
var waitFor = procs.Entry("sem.waitFor", func(ctx context.Context, a waitArgs) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch a.Mode {
	case "event":
		atomic.AddUint32(word(a.Seg, 64), 1)
		if err := a.Event.WaitContext(ctx); err != nil {
			return err
		}
	case "cond":
		if err := a.Lock.Lock(); err != nil {
			return err
		}
		atomic.AddUint32(word(a.Seg, 64), 1)
		for atomic.LoadUint32(word(a.Seg, 72)) == 0 {
			if err := a.Cond.WaitContext(ctx, a.Lock); err != nil {
				return err
			}
		}
		if err := a.Lock.Unlock(); err != nil {
			return err
		}
	}
	atomic.AddUint32(word(a.Seg, 68), 1)
	return nil
})

func TestEventAndBroadcastWakeEveryProcess(t *testing.T) {
	for _, mode := range []string{"event", "cond"} {
		t.Run(mode, func(t *testing.T) {
			seg := newSegment(t, 4096)
			a := waitArgs{Event: at[sem.Event](t, seg, 0), Lock: at[sem.Mutex](t, seg, 8),
				Cond: at[sem.Cond](t, seg, 16), Seg: seg, Mode: mode}
			var ps []*procs.Process
			for range 3 {
				p, err := waitFor.Start(t.Context(), a)
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			for atomic.LoadUint32(word(seg, 64)) < 3 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // let them get to sleep
			if n := atomic.LoadUint32(word(seg, 68)); n != 0 {
				t.Fatalf("%d woke before the signal", n)
			}
			if mode == "event" {
				if err := a.Event.Set(); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := a.Lock.Lock(); err != nil {
					t.Fatal(err)
				}
				atomic.StoreUint32(word(seg, 72), 1)
				if err := errors.Join(a.Cond.Broadcast(), a.Lock.Unlock()); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range ps {
				if err := p.WaitContext(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if n := atomic.LoadUint32(word(seg, 68)); n != 3 {
				t.Fatalf("%d of 3 woke", n)
			}
		})
	}
}

func TestTimeoutsAndCancellation(t *testing.T) {
	seg := newSegment(t, 4096)
	m, s, e, c := at[sem.Mutex](t, seg, 0), at[sem.Semaphore](t, seg, 8), at[sem.Event](t, seg, 16), at[sem.Cond](t, seg, 24)
	if err := m.Lock(); err != nil {
		t.Fatal(err)
	}
	for name, wait := range map[string]func(context.Context) error{
		"Semaphore.AcquireContext": s.AcquireContext,
		"Event.WaitContext":        e.WaitContext,
		"Cond.WaitContext":         func(ctx context.Context) error { return c.WaitContext(ctx, m) },
	} {
		for _, kind := range []string{"timeout", "cancel"} {
			ctx, cancel := context.WithTimeout(t.Context(), 80*time.Millisecond)
			want := error(context.DeadlineExceeded)
			if kind == "cancel" {
				ctx, cancel = context.WithCancel(t.Context())
				time.AfterFunc(80*time.Millisecond, cancel)
				want = context.Canceled
			}
			start := time.Now()
			err := wait(ctx)
			d := time.Since(start)
			cancel()
			if !errors.Is(err, want) || d < 70*time.Millisecond || d > 500*time.Millisecond {
				t.Errorf("%s %s: %v after %v, want %v after about 80 ms", name, kind, err, d, want)
			}
		}
	}
	if !m.Locked() {
		t.Fatal("Cond.WaitContext returned without the lock")
	}
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
}
