package sem_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

type namedArgs struct {
	Sem  string
	Done string
}

// takeNamed opens a semaphore and an event by name, takes a permit, and signals.
var takeNamed = procs.Entry("sem.takeNamed", func(ctx context.Context, a namedArgs) error {
	s, err := sem.OpenSemaphore(a.Sem, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	e, err := sem.OpenEvent(a.Done)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := s.Acquire(); err != nil {
		return err
	}
	return e.Set()
})

func TestNamedObjectsAcrossProcesses(t *testing.T) {
	sname, ename := testmain.Name(t), testmain.Name(t)
	s, err := sem.OpenSemaphore(sname, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer s.Unlink()
	e, err := sem.OpenEvent(ename)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer e.Unlink()
	if err := takeNamed.Run(t.Context(), namedArgs{Sem: sname, Done: ename}); err != nil {
		t.Fatal(err)
	}
	if s.Value() != 0 || !e.IsSet() {
		t.Fatalf("child's permit and event not seen: value %d set %v", s.Value(), e.IsSet())
	}
	if info, err := shm.Stat(sname); err != nil || info.Kind != "sem.Semaphore" {
		t.Fatalf("segment kind %q, %v", info.Kind, err)
	}
}

func TestNamedBadInput(t *testing.T) {
	name := testmain.Name(t)
	s, err := sem.OpenSemaphore(name, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := sem.OpenMutex(name); !errors.Is(err, shm.ErrKind) {
		t.Errorf("a semaphore's name opened as a Mutex: %v, want shm.ErrKind", err)
	}
	if s.Value() != 3 {
		t.Errorf("the failed open changed the semaphore: %d", s.Value())
	}
	if _, err := sem.OpenSemaphore(testmain.Name(t), -1); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("negative count: %v", err)
	}
	if _, err := sem.OpenBoundedSemaphore(testmain.Name(t), -1); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("negative bound: %v", err)
	}
	for _, parties := range []int{0, -1, sem.MaxParties + 1} {
		if _, err := sem.OpenBarrier(testmain.Name(t), parties); !errors.Is(err, sem.ErrInvalid) {
			t.Errorf("%d parties: %v", parties, err)
		}
	}
	bname := testmain.Name(t)
	b, err := sem.OpenBarrier(bname, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer b.Unlink()
	if _, err := sem.OpenBarrier(bname, 4); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("barrier reopened with other parties: %v", err)
	}
	if err := s.ReleaseN(0); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("ReleaseN(0): %v", err)
	}
	if _, err := sem.OpenMutex("bad/name"); !errors.Is(err, shm.ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}

	// Closed and unlinked objects.
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlink(); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("second Unlink: %v, want ErrNotExist", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Acquire(); !errors.Is(err, sem.ErrClosed) {
		t.Errorf("Acquire after Close: %v", err)
	}
	if err := s.Release(); !errors.Is(err, sem.ErrClosed) {
		t.Errorf("Release after Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, sem.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if s.Value() != 0 || s.TryAcquire() {
		t.Error("a closed semaphore still reports permits")
	}
	m, err := sem.OpenMutex(testmain.Name(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Unlink()
	_ = m.Close()
	if err := m.Lock(); !errors.Is(err, sem.ErrClosed) {
		t.Errorf("Lock after Close: %v", err)
	}
	if m.Locked() || m.OwnerPID() != 0 {
		t.Error("a closed mutex reports an owner")
	}
	if _, err := m.ShareHandle(); !errors.Is(err, sem.ErrClosed) {
		t.Errorf("ShareHandle after Close: %v", err)
	}
}

func TestPlacement(t *testing.T) {
	seg := newSegment(t, 256)
	b := seg.Bytes()
	if _, err := sem.At[sem.Mutex](b, 4); !errors.Is(err, sem.ErrMisaligned) {
		t.Errorf("offset 4: %v", err)
	}
	if _, err := sem.At[sem.Barrier](b, 0); !errors.Is(err, sem.ErrOutOfRange) {
		t.Errorf("a barrier in 256 bytes: %v", err)
	}
	for _, off := range []int{-8, 256, 1 << 40} {
		if _, err := sem.At[sem.Mutex](b, off); !errors.Is(err, sem.ErrOutOfRange) {
			t.Errorf("offset %d: %v", off, err)
		}
	}
	if _, err := sem.At[sem.Event](b, 248); err != nil {
		t.Errorf("the last 8 bytes: %v", err)
	}
	var heap sem.Mutex // not in a segment: cannot travel
	if _, err := increment.Start(t.Context(), counterArgs{Lock: &heap, Seg: seg}); !errors.Is(err, procs.ErrEncode) {
		t.Errorf("a Mutex outside any segment passed to a child: %v", err)
	}
	for _, c := range []struct {
		name string
		size int
	}{
		{"Mutex", sem.Sizeof[sem.Mutex]()}, {"RMutex", sem.Sizeof[sem.RMutex]()},
		{"Semaphore", sem.Sizeof[sem.Semaphore]()}, {"BoundedSemaphore", sem.Sizeof[sem.BoundedSemaphore]()},
		{"Cond", sem.Sizeof[sem.Cond]()}, {"Event", sem.Sizeof[sem.Event]()}, {"Barrier", sem.Sizeof[sem.Barrier]()},
	} {
		want := map[string]int{"Mutex": 8, "RMutex": 24, "Semaphore": 8, "BoundedSemaphore": 16, "Cond": 16, "Event": 8, "Barrier": 528}[c.name]
		if c.size != want {
			t.Errorf("%s is %d bytes, the layout says %d", c.name, c.size, want)
		}
	}
}

type idleArgs struct {
	Lock  *sem.Mutex
	Event *sem.Event
	For   time.Duration
}

// idle blocks on a held Mutex, then on an unset Event, each for For, and fails if either
// wait cost more than a tenth of its time in CPU.
var idle = procs.Entry("sem.idle", func(ctx context.Context, a idleArgs) error {
	return errors.Join(
		testmain.BlockedCheaply(ctx, "Mutex.LockContext", a.For, a.Lock.LockContext),
		testmain.BlockedCheaply(ctx, "Event.Wait", a.For, a.Event.WaitContext))
})

func TestBlockedProcessUsesNoCPU(t *testing.T) {
	seg := newSegment(t, 64)
	m, e := at[sem.Mutex](t, seg, 0), at[sem.Event](t, seg, 8)
	if err := m.Lock(); err != nil {
		t.Fatal(err)
	}
	defer m.Unlock()
	if err := idle.Run(t.Context(), idleArgs{Lock: m, Event: e, For: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}
