package sem_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

type partyArgs struct {
	Barrier *sem.Barrier
	Delay   time.Duration // sleep this long before the first Wait
	Gens    int           // generations to cross; 0: until the barrier breaks
	Stop    bool          // stop inside Wait, between counting the arrival and recording it
}

// party sleeps Delay, then crosses the barrier Gens times (or until it breaks).
var party = procs.Entry("sem.party", func(ctx context.Context, a partyArgs) error {
	if a.Stop {
		sem.SetArriveHook(func() { time.Sleep(time.Hour) })
	}
	time.Sleep(a.Delay)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for g := 0; a.Gens == 0 || g < a.Gens; g++ {
		if _, err := a.Barrier.WaitContext(ctx); err != nil {
			return fmt.Errorf("generation %d: %w", g, err)
		}
	}
	return nil
})

// brokenWithin waits at b until it breaks (crossing any generations that complete on the
// way) and fails if that takes more than limit.
func brokenWithin(t *testing.T, b *sem.Barrier, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	for {
		_, err := b.WaitContext(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait hung until its deadline: %v", err)
		}
		if errors.Is(err, sem.ErrBrokenBarrier) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > limit {
		t.Fatalf("the barrier took %v to break", d)
	}
}

// B3: a party killed before its first Wait, at a random moment from its start on, was a
// member from the moment procs handed it the barrier, so the others notice it died.
func TestFaultBarrierPartyKilledBeforeFirstWait(t *testing.T) {
	for i := range testmain.FaultRuns() {
		b, seg := placedBarrier(t, 3)
		other, err := party.Start(t.Context(), partyArgs{Barrier: b})
		if err != nil {
			t.Fatal(err)
		}
		late, err := party.Start(t.Context(), partyArgs{Barrier: b, Delay: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond) // often before it has even attached
		_ = late.Kill()
		brokenWithin(t, b, 2*time.Second)
		if err := other.WaitContext(t.Context()); err == nil || !strings.Contains(err.Error(), sem.ErrBrokenBarrier.Error()) {
			t.Fatalf("iteration %d: the other party ended with %v, want a broken barrier", i, err)
		}
		_ = late.JoinContext(t.Context())
		_ = seg.Close()
	}
}

// B4: a party killed between counting its arrival and recording it. Four parties, so the two
// live ones and the dead one's count do not complete the generation: they must break it.
func TestBarrierPartyKilledBetweenCountAndRecord(t *testing.T) {
	b, _ := placedBarrier(t, 4)
	stopped, err := party.Start(t.Context(), partyArgs{Barrier: b, Stop: true})
	if err != nil {
		t.Fatal(err)
	}
	for b.Waiting() == 0 { // it has counted itself, and sleeps before recording
		time.Sleep(time.Millisecond)
	}
	_ = stopped.Kill()
	_ = stopped.JoinContext(t.Context())
	other, err := party.Start(t.Context(), partyArgs{Barrier: b})
	if err != nil {
		t.Fatal(err)
	}
	brokenWithin(t, b, 2*time.Second)
	if err := other.WaitContext(t.Context()); err == nil || !strings.Contains(err.Error(), sem.ErrBrokenBarrier.Error()) {
		t.Fatalf("the other party ended with %v, want a broken barrier", err)
	}
}

// A party that finishes and exits cleanly, replaced by a new process, breaks nothing: Python's
// Barrier has no membership, and leaving is not dying.
func TestBarrierPartyLeavesAndIsReplaced(t *testing.T) {
	b, _ := placedBarrier(t, 3)
	steady, err := party.Start(t.Context(), partyArgs{Barrier: b, Gens: 30})
	if err != nil {
		t.Fatal(err)
	}
	first, err := party.Start(t.Context(), partyArgs{Barrier: b, Gens: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for g := range 30 {
		if g == 10 {
			if err := first.WaitContext(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // two check slices with the first one gone
			if _, err := party.Start(t.Context(), partyArgs{Barrier: b, Gens: 20}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.WaitContext(ctx); err != nil {
			t.Fatalf("generation %d: %v", g, err)
		}
	}
	if err := steady.WaitContext(ctx); err != nil {
		t.Fatal(err)
	}
	testmain.WaitAll(t, procs.ActiveChildren()...)
}

type condArgs struct {
	Lock *sem.Mutex
	Cond *sem.Cond
	Seg  *shm.Segment // word 64: waiting; word 68: returned
}

// condWaiter waits once on the condition, with a deadline, as CPython's cond.wait(timeout).
var condWaiter = procs.Entry("sem.condWaiter", func(ctx context.Context, a condArgs) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Lock.Lock(); err != nil {
		return err
	}
	atomic.AddUint32(word(a.Seg, 64), 1)
	err := a.Cond.WaitContext(ctx, a.Lock)
	atomic.AddUint32(word(a.Seg, 68), 1)
	return errors.Join(err, a.Lock.Unlock())
})

// Signal lets exactly one waiter return, even when every waiter waits with a deadline, and
// Broadcast the rest (CPython's notify and notify_all).
func TestCondSignalWakesOneTimedWaiter(t *testing.T) {
	seg := newSegment(t, 4096)
	a := condArgs{Lock: at[sem.Mutex](t, seg, 0), Cond: at[sem.Cond](t, seg, 8), Seg: seg}
	ps := testmain.StartN(t, condWaiter, 4, func(int) condArgs { return a })
	for atomic.LoadUint32(word(seg, 64)) < 4 || a.Cond.Waiting() < 4 {
		time.Sleep(time.Millisecond)
	}
	returned := func(want uint32) {
		t.Helper()
		time.Sleep(300 * time.Millisecond) // three of the old timed re-checks
		if got := atomic.LoadUint32(word(seg, 68)); got != want {
			t.Fatalf("%d waiters returned, want %d", got, want)
		}
	}
	for i := uint32(1); i <= 2; i++ {
		if err := a.Cond.Signal(); err != nil {
			t.Fatal(err)
		}
		returned(i)
	}
	if err := a.Cond.Broadcast(); err != nil {
		t.Fatal(err)
	}
	testmain.WaitAll(t, ps...)
	returned(4)
}

type sleeperArgs struct {
	Seg  *shm.Segment
	Kind string
}

// sleeper blocks on the object at offset 0 of Seg until it is killed.
var sleeper = procs.Entry("sem.sleeper", func(ctx context.Context, a sleeperArgs) error {
	b := a.Seg.Bytes()
	switch a.Kind {
	case "Mutex":
		m, _ := sem.At[sem.Mutex](b, 0)
		return m.Lock()
	case "Semaphore":
		s, _ := sem.At[sem.Semaphore](b, 0)
		return s.Acquire()
	case "Event":
		e, _ := sem.At[sem.Event](b, 0)
		return e.WaitContext(ctx)
	}
	return fmt.Errorf("no kind %q", a.Kind)
})

// A process killed while it sleeps leaves its "someone sleeps" flag raised; the next release
// must clear it, so later releases make no wake system call for nobody (a count used to stay
// raised for ever). Each of these objects keeps the flag in its second word.
func TestKilledSleeperLeavesNoFlag(t *testing.T) {
	for _, kind := range []string{"Mutex", "Semaphore", "Event"} {
		t.Run(kind, func(t *testing.T) {
			seg := newSegment(t, 64)
			m := at[sem.Mutex](t, seg, 0)
			if kind == "Mutex" {
				if err := m.Lock(); err != nil {
					t.Fatal(err)
				}
			}
			p, err := sleeper.Start(t.Context(), sleeperArgs{Seg: seg, Kind: kind})
			if err != nil {
				t.Fatal(err)
			}
			flag := word(seg, 4)
			for atomic.LoadUint32(flag) == 0 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			_ = p.Kill()
			_ = p.JoinContext(t.Context())
			if atomic.LoadUint32(flag) == 0 {
				t.Fatal("the flag was clear before any release: the test shows nothing")
			}
			var release func() error
			switch kind {
			case "Mutex":
				release = m.Unlock
			case "Semaphore":
				release = at[sem.Semaphore](t, seg, 0).Release
			case "Event":
				release = at[sem.Event](t, seg, 0).Set
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			if f := atomic.LoadUint32(flag); f != 0 {
				t.Fatalf("after a release the dead sleeper's flag is still %d", f)
			}
		})
	}
}

type openArgs struct {
	Prefix string
	N      int
	Go     *sem.Event
}

// openMany opens the named Mutexes Prefix0 … PrefixN-1, racing the other openers for each.
var openMany = procs.Entry("sem.openMany", func(ctx context.Context, a openArgs) error {
	if err := a.Go.WaitContext(ctx); err != nil {
		return err
	}
	for i := range a.N {
		m, err := sem.OpenOrCreateMutex(fmt.Sprintf("%s%d", a.Prefix, i))
		if err != nil {
			return fmt.Errorf("open %d: %w", i, err)
		}
		if err := errors.Join(m.Lock(), m.Unlock(), m.Close()); err != nil {
			return err
		}
	}
	return nil
})

// B6: OpenMutex racing other processes' OpenMutex of the same fresh name: one creates, the
// others attach, and none fails (37 of 1200 used to, with "segment truncated: 0 bytes").
func TestConcurrentOpenOfFreshNames(t *testing.T) {
	const procsN, names = 4, 300
	seg := newSegment(t, 64)
	start := at[sem.Event](t, seg, 0)
	prefix := testmain.Prefix() + "fresh"
	defer func() {
		for i := range names {
			_ = shm.Remove(fmt.Sprintf("%s%d", prefix, i))
		}
	}()
	ps := testmain.StartN(t, openMany, procsN, func(int) openArgs { return openArgs{Prefix: prefix, N: names, Go: start} })
	time.Sleep(50 * time.Millisecond)
	if err := start.Set(); err != nil {
		t.Fatal(err)
	}
	testmain.WaitAll(t, ps...)
}

// A process hammering a Mutex is killed at a random moment, holding it or not: the next locker
// gets the lock within a check slice, with ErrOwnerDead exactly when the dead one held it.
func TestFaultMutexUserKilled(t *testing.T) {
	var tookOver, free int
	for i := range testmain.FaultRuns() {
		seg := newSegment(t, 64)
		m := at[sem.Mutex](t, seg, 0)
		p, err := increment.Start(t.Context(), counterArgs{Lock: m, Seg: seg, Goroutines: 2, Increments: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20_000+rand.IntN(20_000)) * time.Microsecond)
		_ = p.Kill()
		_ = p.JoinContext(t.Context())
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		start := time.Now()
		err = m.LockContext(ctx)
		cancel()
		switch {
		case errors.Is(err, sem.ErrOwnerDead):
			tookOver++
			if err := m.Consistent(); err != nil {
				t.Fatal(err)
			}
		case err == nil:
			free++
		default:
			t.Fatalf("iteration %d: %v after %v", i, err, time.Since(start))
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("iteration %d: the lock took %v", i, d)
		}
		if err := m.Unlock(); err != nil {
			t.Fatal(err)
		}
		if ok, err := m.TryLock(); !ok || err != nil {
			t.Fatalf("iteration %d: the lock is not usable after: %v %v", i, ok, err)
		}
		_ = m.Unlock()
		_ = seg.Close()
	}
	t.Logf("%d killed holding the lock, %d between holds", tookOver, free)
}
