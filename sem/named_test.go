package sem_test

import (
	"context"
	"errors"
	"runtime"
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
	s, err := sem.OpenSemaphore(a.Sem)
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
	s, err := sem.CreateSemaphore(sname, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlink()
	defer s.Close()
	e, err := sem.CreateEvent(ename)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Unlink()
	defer e.Close()
	if err := takeNamed.Run(t.Context(), namedArgs{Sem: sname, Done: ename}); err != nil {
		t.Fatal(err)
	}
	if s.Value() != 0 || !e.IsSet() {
		t.Fatalf("child's permit and event not seen: value %d set %v", s.Value(), e.IsSet())
	}
	if runtime.GOOS == "windows" { // a section cannot be inspected without mapping it: no Stat
		seg, err := shm.Open(sname)
		if err != nil || seg.Kind() != "sem.Semaphore" {
			t.Fatalf("segment: %v, %v", seg, err)
		}
		_ = seg.Close()
	} else if info, err := shm.Stat(sname); err != nil || info.Kind != "sem.Semaphore" {
		t.Fatalf("segment kind %q, %v", info.Kind, err)
	}
}

type sharedArgs struct {
	Lock    *sem.SharedMutex
	Sem     *sem.SharedSemaphore
	Done    *sem.SharedEvent
	Barrier *sem.SharedBarrier
	Cond    *sem.SharedCond
	RLock   *sem.SharedRMutex
	Bounded *sem.SharedBoundedSemaphore
}

// useShared uses each object it was given, as the type a constructor returned.
var useShared = procs.Entry("sem.useShared", func(ctx context.Context, a sharedArgs) error {
	if err := a.Lock.Lock(); err != nil {
		return err
	}
	if err := a.Lock.Unlock(); err != nil {
		return err
	}
	if !a.Sem.TryAcquire() || !a.Bounded.TryAcquire() {
		return errors.New("no permit")
	}
	o := sem.NewOwner()
	if err := errors.Join(a.RLock.Lock(o), a.RLock.Lock(o), a.RLock.Unlock(o), a.RLock.Unlock(o)); err != nil {
		return err
	}
	if _, err := a.Barrier.Wait(); err != nil {
		return err
	}
	if err := a.Cond.Signal(); err != nil {
		return err
	}
	return a.Done.Set()
})

// Every type a constructor returns travels in an entry's argument as it is (a *NamedMutex
// used to arrive as a *Mutex the field could not hold), anonymous or named.
func TestSharedObjectsTravelAsThemselves(t *testing.T) {
	for _, named := range []bool{false, true} {
		name := func() string {
			if named {
				return testmain.Name(t)
			}
			return ""
		}
		mk := func(obj any, err error) any {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = obj.(interface{ Close() error }).Close(); _ = obj.(interface{ Unlink() error }).Unlink() })
			return obj
		}
		var a sharedArgs
		if named {
			a = sharedArgs{
				Lock: mk(sem.CreateMutex(name())).(*sem.SharedMutex), Sem: mk(sem.CreateSemaphore(name(), 1)).(*sem.SharedSemaphore),
				Done: mk(sem.CreateEvent(name())).(*sem.SharedEvent), Barrier: mk(sem.CreateBarrier(name(), 1)).(*sem.SharedBarrier),
				Cond: mk(sem.CreateCond(name())).(*sem.SharedCond), RLock: mk(sem.CreateRMutex(name())).(*sem.SharedRMutex),
				Bounded: mk(sem.CreateBoundedSemaphore(name(), 1)).(*sem.SharedBoundedSemaphore),
			}
		} else {
			a = sharedArgs{
				Lock: mk(sem.NewMutex()).(*sem.SharedMutex), Sem: mk(sem.NewSemaphore(1)).(*sem.SharedSemaphore),
				Done: mk(sem.NewEvent()).(*sem.SharedEvent), Barrier: mk(sem.NewBarrier(1)).(*sem.SharedBarrier),
				Cond: mk(sem.NewCond()).(*sem.SharedCond), RLock: mk(sem.NewRMutex()).(*sem.SharedRMutex),
				Bounded: mk(sem.NewBoundedSemaphore(1)).(*sem.SharedBoundedSemaphore),
			}
		}
		if err := useShared.Run(t.Context(), a); err != nil {
			t.Fatalf("named %v: %v", named, err)
		}
		if !a.Done.IsSet() || a.Sem.Value() != 0 || a.Bounded.Value() != 0 {
			t.Fatalf("named %v: the child's work is not seen", named)
		}
	}
}

func TestConstructorConventions(t *testing.T) {
	name := testmain.Name(t)
	if _, err := sem.OpenMutex(name); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("Open of a free name: %v, want ErrNotExist", err)
	}
	m, err := sem.CreateMutex(name)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer m.Unlink()
	if _, err := sem.CreateMutex(name); !errors.Is(err, shm.ErrExist) {
		t.Fatalf("Create of a taken name: %v, want ErrExist", err)
	}
	m2, err := sem.OpenMutex(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m2.TryLock(); ok || !m2.Locked() {
		t.Fatal("two handles on one name are not one Mutex")
	}
	_ = m.Unlock()
	_ = m2.Close()
	m3, err := sem.OpenOrCreateMutex(name)
	if err != nil {
		t.Fatal(err)
	}
	_ = m3.Close()
	fresh := testmain.Name(t)
	m4, err := sem.OpenOrCreateMutex(fresh)
	if err != nil {
		t.Fatalf("OpenOrCreate of a free name: %v", err)
	}
	_ = m4.Close()
	_ = m4.Unlink()
}

func TestNamedBadInput(t *testing.T) {
	name := testmain.Name(t)
	s, err := sem.CreateSemaphore(name, 3)
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
	if _, err := sem.CreateSemaphore(testmain.Name(t), -1); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("negative count: %v", err)
	}
	if _, err := sem.NewBoundedSemaphore(-1); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("negative bound: %v", err)
	}
	for _, parties := range []int{0, -1, sem.MaxParties + 1} {
		if _, err := sem.CreateBarrier(testmain.Name(t), parties); !errors.Is(err, sem.ErrInvalid) {
			t.Errorf("%d parties: %v", parties, err)
		}
	}
	bname := testmain.Name(t)
	b, err := sem.CreateBarrier(bname, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer b.Unlink()
	if _, err := sem.OpenOrCreateBarrier(bname, 4); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("barrier reopened with other parties: %v", err)
	}
	if err := s.ReleaseN(0); !errors.Is(err, sem.ErrInvalid) {
		t.Errorf("ReleaseN(0): %v", err)
	}
	if _, err := sem.CreateMutex("bad/name"); !errors.Is(err, shm.ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := sem.OpenMutex("-flag"); !errors.Is(err, shm.ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}

	// Closed and unlinked objects.
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	// A Windows section has no name to remove: Unlink is a no-op there, the second one too.
	if err := s.Unlink(); runtime.GOOS != "windows" && !errors.Is(err, shm.ErrNotExist) {
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
	m, err := sem.NewMutex()
	if err != nil {
		t.Fatal(err)
	}
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
		want := map[string]int{"Mutex": 8, "RMutex": 24, "Semaphore": 8, "BoundedSemaphore": 16, "Cond": 16, "Event": 8, "Barrier": 552}[c.name]
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
