package sem_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// counterLayout: a Mutex at 0, a plain (non-atomic) counter at 8.
type counterArgs struct {
	Lock       *sem.Mutex
	Seg        *shm.Segment
	Goroutines int
	Increments int
}

func counter(seg *shm.Segment) *uint64 { return (*uint64)(unsafe.Pointer(&seg.Bytes()[8])) }

// increment adds 1 to the counter Increments times from each of Goroutines goroutines,
// each time under the lock, with a read, a yield and a write, so lost updates would show.
var increment = procs.Entry("sem.increment", func(ctx context.Context, a counterArgs) error {
	var wg sync.WaitGroup
	errs := make(chan error, a.Goroutines)
	for range a.Goroutines {
		wg.Go(func() {
			c := counter(a.Seg)
			for range a.Increments {
				if err := a.Lock.Lock(); err != nil {
					errs <- err
					return
				}
				v := *c
				if v%64 == 0 {
					time.Sleep(time.Microsecond)
				}
				*c = v + 1
				if err := a.Lock.Unlock(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
})

func newSegment(t testing.TB, size int) *shm.Segment {
	t.Helper()
	s, err := shm.Create(testmain.Name(t), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// placedBarrier returns a Barrier for parties, placed at offset 0 of a fresh named segment,
// and the segment.
func placedBarrier(t testing.TB, parties int) (*sem.Barrier, *shm.Segment) {
	t.Helper()
	seg := newSegment(t, 4096)
	b := at[sem.Barrier](t, seg, 0)
	if err := b.Init(parties); err != nil {
		t.Fatal(err)
	}
	return b, seg
}

func at[T sem.Object](t testing.TB, s *shm.Segment, off int) *T {
	t.Helper()
	p, err := sem.At[T](s.Bytes(), off)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMutexCounterAcrossProcesses(t *testing.T) {
	const procsN, goroutines, incs = 4, 2, 2000
	seg := newSegment(t, 4096)
	m := at[sem.Mutex](t, seg, 0)
	testmain.WaitAll(t, testmain.StartN(t, increment, procsN, func(int) counterArgs {
		return counterArgs{Lock: m, Seg: seg, Goroutines: goroutines, Increments: incs}
	})...)
	if got, want := *counter(seg), uint64(procsN*goroutines*incs); got != want {
		t.Fatalf("counter %d, want %d: the lock let updates through", got, want)
	}
	if m.Locked() {
		t.Fatal("mutex still locked")
	}
}

type holdArgs struct {
	Lock  *sem.Mutex
	Ready *sem.Event
	Seg   *shm.Segment
}

// holdLock locks, marks the data half-updated, announces, and sleeps until killed.
var holdLock = procs.Entry("sem.holdLock", func(ctx context.Context, a holdArgs) error {
	if err := a.Lock.Lock(); err != nil {
		return err
	}
	*counter(a.Seg) = 0xBAD
	if err := a.Ready.Set(); err != nil {
		return err
	}
	time.Sleep(time.Hour)
	return nil
})

// killHolder starts holdLock and SIGKILLs it once it holds the lock.
func killHolder(t *testing.T, m *sem.Mutex, ready *sem.Event, seg *shm.Segment) {
	t.Helper()
	_ = ready.Clear()
	p, err := holdLock.Start(t.Context(), holdArgs{Lock: m, Ready: ready, Seg: seg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := ready.WaitContext(ctx); err != nil {
		t.Fatal("holder never took the lock:", err)
	}
	if m.OwnerPID() != p.Pid() {
		t.Fatalf("owner pid %d, want the holder's %d", m.OwnerPID(), p.Pid())
	}
	_ = p.Kill()
	_ = p.JoinContext(t.Context())
}

func TestOwnerDeathIsRecoverable(t *testing.T) {
	seg := newSegment(t, 4096)
	m, ready := at[sem.Mutex](t, seg, 0), at[sem.Event](t, seg, 16)
	killHolder(t, m, ready, seg)

	start := time.Now()
	err := m.Lock()
	if !errors.Is(err, sem.ErrOwnerDead) {
		t.Fatalf("Lock after the owner died: %v, want ErrOwnerDead", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v to notice the dead owner", d)
	}
	if *counter(seg) != 0xBAD {
		t.Fatal("protected data not as the dead owner left it")
	}
	*counter(seg) = 0 // repair
	if err := m.Consistent(); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	// Work continues: other processes use the lock normally.
	if err := increment.Run(t.Context(), counterArgs{Lock: m, Seg: seg, Goroutines: 2, Increments: 100}); err != nil {
		t.Fatal(err)
	}
	if *counter(seg) != 200 {
		t.Fatalf("counter %d after recovery, want 200", *counter(seg))
	}
}

func TestOwnerDeathWithoutConsistentIsNotRecoverable(t *testing.T) {
	seg := newSegment(t, 4096)
	m, ready := at[sem.Mutex](t, seg, 0), at[sem.Event](t, seg, 16)
	killHolder(t, m, ready, seg)
	if err := m.Lock(); !errors.Is(err, sem.ErrOwnerDead) {
		t.Fatalf("%v, want ErrOwnerDead", err)
	}
	if err := m.Unlock(); err != nil { // without Consistent
		t.Fatal(err)
	}
	if err := m.Lock(); !errors.Is(err, sem.ErrNotRecoverable) {
		t.Fatalf("Lock of an abandoned inconsistent mutex: %v, want ErrNotRecoverable", err)
	}
	if ok, err := m.TryLock(); ok || !errors.Is(err, sem.ErrNotRecoverable) {
		t.Fatalf("TryLock: %v %v", ok, err)
	}
	err := increment.Run(t.Context(), counterArgs{Lock: m, Seg: seg, Goroutines: 1, Increments: 1})
	if err == nil || !strings.Contains(err.Error(), sem.ErrNotRecoverable.Error()) {
		t.Fatalf("another process's Lock: %v, want ErrNotRecoverable", err)
	}
}

type unlockArgs struct{ Lock *sem.Mutex }

var unlockOther = procs.Entry("sem.unlockOther", func(ctx context.Context, a unlockArgs) error {
	if err := a.Lock.Unlock(); !errors.Is(err, sem.ErrNotOwner) {
		return fmt.Errorf("Unlock of another process's lock: %v, want ErrNotOwner", err)
	}
	if ok, err := a.Lock.TryLock(); ok || err != nil {
		return fmt.Errorf("TryLock of a held lock: %v %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := a.Lock.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("LockContext: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		return fmt.Errorf("LockContext overran its 100 ms deadline by %v", d)
	}
	return nil
})

func TestUnlockByOtherProcessAndTimeout(t *testing.T) {
	seg := newSegment(t, 64)
	m := at[sem.Mutex](t, seg, 0)
	if err := m.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := unlockOther.Run(t.Context(), unlockArgs{m}); err != nil {
		t.Fatal(err)
	}
	if !m.Locked() {
		t.Fatal("another process's failed Unlock released the lock")
	}
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(); !errors.Is(err, sem.ErrNotOwner) {
		t.Fatalf("Unlock of an unlocked mutex: %v", err)
	}
}

func TestRMutexReentrancy(t *testing.T) {
	seg := newSegment(t, 64)
	r := at[sem.RMutex](t, seg, 0)
	a, b := sem.NewOwner(), sem.NewOwner()
	for i := 1; i <= 3; i++ {
		if err := r.Lock(a); err != nil || r.Depth() != i {
			t.Fatalf("lock %d: %v depth %d", i, err, r.Depth())
		}
	}
	if ok, _ := r.TryLock(b); ok {
		t.Fatal("a second owner in the same process got a held RMutex")
	}
	if err := r.Unlock(b); !errors.Is(err, sem.ErrNotOwner) {
		t.Fatalf("Unlock by another owner: %v", err)
	}
	var acquired atomic.Bool
	done := make(chan error)
	go func() {
		err := r.Lock(b)
		acquired.Store(true)
		if err == nil {
			err = r.Unlock(b)
		}
		done <- err
	}()
	for i := 3; i >= 1; i-- {
		time.Sleep(10 * time.Millisecond)
		if acquired.Load() {
			t.Fatalf("owner b got the lock while a held depth %d", i)
		}
		if err := r.Unlock(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.Depth() != 0 || r.Unlock(a) == nil {
		t.Fatal("RMutex not fully released")
	}
}
