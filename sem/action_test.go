package sem_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// actionSeg is where the test actions count; each process sets it from its argument before
// it waits (an action has no argument of its own: it is found by name in whichever process
// arrives last).
var actionSeg atomic.Pointer[shm.Segment]

const (
	offRuns   = 0 // how many times an action ran
	offActing = 4 // 1 once slowAction has begun
)

var countAction = sem.Action("sem_test.count", func() error {
	atomic.AddUint32(word(actionSeg.Load(), offRuns), 1)
	return nil
})

var slowAction = sem.Action("sem_test.slow", func() error {
	atomic.StoreUint32(word(actionSeg.Load(), offActing), 1)
	time.Sleep(time.Hour)
	return nil
})

type actArgs struct {
	Barrier     *sem.SharedBarrier
	Seg         *shm.Segment
	Generations int
	Last        bool // wait until every other party is waiting before arriving
}

// actParty crosses the barrier Generations times; after each crossing the action has run
// exactly once per generation so far, already (it runs before anyone is released).
var actParty = procs.Entry("sem.actParty", func(ctx context.Context, a actArgs) error {
	actionSeg.Store(a.Seg)
	for g := range a.Generations {
		if a.Last {
			for a.Barrier.Waiting() < a.Barrier.Parties()-1 {
				time.Sleep(time.Millisecond)
			}
		}
		if _, err := a.Barrier.WaitContext(ctx); err != nil {
			return err
		}
		if runs := atomic.LoadUint32(word(a.Seg, offRuns)); runs < uint32(g+1) {
			return fmt.Errorf("generation %d released with the action run %d times", g, runs)
		}
	}
	return nil
})

// TestBarrierActionRunsOncePerGeneration: CPython's test_action: the action runs once per
// generation, in one party, before any party is released.
func TestBarrierActionRunsOncePerGeneration(t *testing.T) {
	const parties, gens = 3, 50
	b, err := sem.NewBarrier(parties, sem.WithAction(countAction))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	seg, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	testmain.WaitAll(t, testmain.StartN(t, actParty, parties, func(int) actArgs {
		return actArgs{Barrier: b, Seg: seg, Generations: gens}
	})...)
	if runs := atomic.LoadUint32(word(seg, offRuns)); runs != gens {
		t.Fatalf("the action ran %d times in %d generations", runs, gens)
	}
}

var failing = sem.Action("sem_test.failing", func() error { return errors.New("boom") })
var panicking = sem.Action("sem_test.panicking", func() error { panic("kaboom") })

// TestBarrierActionFailureBreaksIt: CPython's test_action_exception: the party whose action
// raised gets its error, the others BrokenBarrierError, and the barrier is broken.
func TestBarrierActionFailureBreaksIt(t *testing.T) {
	for _, c := range []struct {
		a    *sem.BarrierAction
		want string
	}{{failing, "boom"}, {panicking, "panic: kaboom"}} {
		b, err := sem.NewBarrier(2, sem.WithAction(c.a))
		if err != nil {
			t.Fatal(err)
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = b.WaitContext(t.Context()) })
		}
		wg.Wait()
		mine := 0
		for _, err := range errs {
			if !errors.Is(err, sem.ErrBrokenBarrier) {
				t.Errorf("%s: a party got %v, want ErrBrokenBarrier", c.a.Name(), err)
			}
			if err != nil && strings.Contains(err.Error(), c.want) {
				mine++
			}
		}
		if mine != 1 || !b.Broken() {
			t.Errorf("%s: %d parties got the action's error %q (want 1); broken %v: %v", c.a.Name(), mine, c.want, b.Broken(), errs)
		}
		_ = b.Close()
	}
}

// TestFaultBarrierActorKilled: the last party is SIGKILLed at a random moment while it runs
// the action (it has counted its arrival): the waiting party must not wait for ever.
func TestFaultBarrierActorKilled(t *testing.T) {
	for i := range testmain.FaultRuns() {
		b, err := sem.NewBarrier(2, sem.WithAction(slowAction))
		if err != nil {
			t.Fatal(err)
		}
		seg, err := shm.Anonymous(4096)
		if err != nil {
			t.Fatal(err)
		}
		actionSeg.Store(seg)
		p, err := actParty.Start(t.Context(), actArgs{Barrier: b, Seg: seg, Generations: 1, Last: true})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for atomic.LoadUint32(word(seg, offActing)) == 0 {
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
			_ = p.Kill()
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		start := time.Now()
		_, err = b.WaitContext(ctx)
		cancel()
		if d := time.Since(start); !errors.Is(err, sem.ErrBrokenBarrier) || errors.Is(err, context.DeadlineExceeded) || d > 5*time.Second {
			t.Fatalf("iteration %d: the waiter got %v after %v, want ErrBrokenBarrier well before its deadline", i, err, d)
		}
		_ = p.JoinContext(t.Context())
		_, _ = b.Close(), seg.Close()
	}
}

// TestBarrierDefaultTimeout: CPython's test_default_timeout: a wait with no deadline of its
// own uses the barrier's, and running out breaks the barrier; a context's own deadline wins.
func TestBarrierDefaultTimeout(t *testing.T) {
	b, err := sem.NewBarrier(2, sem.BarrierTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Barrier().Timeout() != 100*time.Millisecond {
		t.Fatalf("Timeout %v", b.Barrier().Timeout())
	}
	start := time.Now()
	_, err = b.Wait()
	if d := time.Since(start); !errors.Is(err, sem.ErrBrokenBarrier) || !errors.Is(err, context.DeadlineExceeded) || d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("a lone Wait: %v after %v", err, d)
	}
	if !b.Broken() {
		t.Fatal("the timeout did not break the barrier")
	}
	_ = b.Reset()
	if err := b.Barrier().SetTimeout(time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := b.WaitContext(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("a Wait with its own deadline: %v after %v", err, time.Since(start))
	}
	if err := b.Barrier().SetTimeout(-1); !errors.Is(err, sem.ErrInvalid) {
		t.Fatalf("SetTimeout(-1): %v", err)
	}
}

// TestBarrierActionNotRegistered: a barrier whose action this binary does not have (another
// program set it) breaks at the last arrival, saying so, instead of skipping the action.
func TestBarrierActionNotRegistered(t *testing.T) {
	b, _ := placedBarrier(t, 1)
	sem.SetActionKey(b, 12345)
	if _, err := b.Wait(); !errors.Is(err, sem.ErrBrokenBarrier) || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("Wait: %v", err)
	}
	_ = b.Reset()
	b.SetAction(nil)
	if _, err := b.Wait(); err != nil {
		t.Fatalf("Wait with no action: %v", err)
	}
}

// condState is a Mutex, a Cond and a counter in one segment.
type condState struct {
	m     *sem.Mutex
	c     *sem.Cond
	value *uint32
}

func condIn(seg *shm.Segment) (condState, error) {
	m, err := sem.At[sem.Mutex](seg.Bytes(), 0)
	if err != nil {
		return condState{}, err
	}
	c, err := sem.At[sem.Cond](seg.Bytes(), 128)
	return condState{m: m, c: c, value: word(seg, 256)}, err
}

// condWaitFor is CPython's _test_waitfor_f: it sets the value to 0, notifies, and waits for 4.
var condWaitFor = procs.Entry("sem.condWaitFor", func(ctx context.Context, seg *shm.Segment) error {
	s, err := condIn(seg)
	if err != nil {
		return err
	}
	if err := s.m.Lock(); err != nil {
		return err
	}
	defer s.m.Unlock()
	atomic.StoreUint32(s.value, 0)
	if err := s.c.Signal(); err != nil {
		return err
	}
	ok, err := s.c.WaitFor(ctx, s.m, func() bool { return atomic.LoadUint32(s.value) == 4 })
	if !ok || err != nil || atomic.LoadUint32(s.value) != 4 {
		return fmt.Errorf("WaitFor returned %v, %v with the value %d", ok, err, atomic.LoadUint32(s.value))
	}
	return nil
})

// TestCondWaitFor: CPython's test_waitfor and test_waitfor_timeout, across processes.
func TestCondWaitFor(t *testing.T) {
	seg := newSegment(t, 4096)
	s, err := condIn(seg)
	if err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint32(s.value, 99)
	if err := s.m.Lock(); err != nil {
		t.Fatal(err)
	}
	p, err := condWaitFor.Start(t.Context(), seg)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	ok, err := s.c.WaitFor(wctx, s.m, func() bool { return atomic.LoadUint32(s.value) == 0 })
	if !ok || err != nil || atomic.LoadUint32(s.value) != 0 {
		_ = s.m.Unlock()
		t.Fatalf("WaitFor(value == 0): %v, %v, value %d; the child: %v", ok, err, atomic.LoadUint32(s.value), p.WaitContext(t.Context()))
	}
	_ = s.m.Unlock()
	for range 4 {
		time.Sleep(10 * time.Millisecond)
		if err := s.m.Lock(); err != nil {
			t.Fatal(err)
		}
		atomic.AddUint32(s.value, 1)
		_ = s.c.Signal()
		_ = s.m.Unlock()
	}
	if err := p.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The timeout: the predicate never holds, so WaitFor returns false and ctx's error after
	// the deadline, holding the lock.
	if err := s.m.Lock(); err != nil {
		t.Fatal(err)
	}
	start := time.Now() // before the deadline is set: it must not pass early by this clock
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	ok, err = s.c.WaitFor(ctx, s.m, func() bool { return false })
	d := time.Since(start)
	if ok || !errors.Is(err, context.DeadlineExceeded) || d < 100*time.Millisecond || d > 2*time.Second {
		t.Fatalf("WaitFor that never holds: %v, %v after %v", ok, err, d)
	}
	if owner := s.m.OwnerPID(); owner != os.Getpid() {
		t.Fatalf("after the timeout the lock is held by %d", owner)
	}
	_ = s.m.Unlock()
}

// TestStrings: what fmt shows of each object, as Python's repr does (test_repr_lock,
// test_repr_rlock, semaphore and event reprs).
func TestStrings(t *testing.T) {
	m, err := sem.NewMutex()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := fmt.Sprint(m); got != "anonymous sem.Mutex(unlocked)" {
		t.Errorf("unlocked Mutex: %q", got)
	}
	_ = m.Lock()
	if got, want := fmt.Sprint(m), fmt.Sprintf("sem.Mutex(owner pid %d)", os.Getpid()); !strings.HasSuffix(got, want) {
		t.Errorf("locked Mutex: %q, want …%q", got, want)
	}
	_ = m.Unlock()
	s, _ := sem.NewBoundedSemaphore(2)
	defer s.Close()
	_ = s.Acquire()
	if got := fmt.Sprint(s); !strings.HasSuffix(got, "sem.BoundedSemaphore(value=1, bound=2)") {
		t.Errorf("BoundedSemaphore: %q", got)
	}
	e, _ := sem.NewEvent()
	_ = e.Set()
	if got := fmt.Sprint(e); !strings.HasSuffix(got, "sem.Event(set)") {
		t.Errorf("Event: %q", got)
	}
	_ = e.Close()
	if got := fmt.Sprint(e); got != "anonymous (closed)" {
		t.Errorf("closed Event: %q", got)
	}
	b, _ := sem.NewBarrier(3)
	defer b.Close()
	if got := fmt.Sprint(b); !strings.HasSuffix(got, "sem.Barrier(parties=3, waiting=0, broken=false)") {
		t.Errorf("Barrier: %q", got)
	}
}
