package sem

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/shm"
)

// shared is what every Shared… type is made of: the object alone in its own segment, and
// this process's handle on that segment (object.Handle: Close, Unlink, Segment, Name, and the
// closed flag every method checks). The seven types differ only in the methods they forward.
type shared[T Object] struct {
	p              *T
	*object.Handle // by pointer, so a shared value copies without copying its closed flag
}

// build makes the Shared… value S around seg, which holds a T at offset 0 (object.Make,
// Open or OpenOrCreate made or found it); it closes seg if that fails.
func build[T Object, S ~struct{ shared[T] }](seg *shm.Segment, err error) (*S, error) {
	if err != nil {
		return nil, err
	}
	p, err := At[T](seg.Bytes(), 0)
	if err == nil {
		err = joinMembers(p, seg)
	}
	if err != nil {
		_ = seg.Close()
		return nil, err
	}
	h := &object.Handle{}
	h.Bind(seg)
	s := S{shared[T]{p: p, Handle: h}}
	return &s, nil
}

// create makes the object called name (New… makes anonymous ones: a name is required here).
func create[T Object, S ~struct{ shared[T] }](name string, spec object.Spec, opts []shm.Option) (*S, error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return build[T, S](object.Make(spec, name, opts))
}

func openOrCreate[T Object, S ~struct{ shared[T] }](name string, spec object.Spec, opts []shm.Option) (*S, error) {
	seg, _, err := object.OpenOrCreate(spec, name, opts)
	return build[T, S](seg, err)
}

// ShareHandle implements shm.Shareable: a Shared… value travels as its object.
func (s *shared[T]) ShareHandle() (shm.Handle, error) {
	if s.Closed() {
		return shm.Handle{}, ErrClosed
	}
	return any(s.p).(shm.Shareable).ShareHandle()
}

// Adopt implements shm.Adopter: a Shared… field of a child's argument is rebuilt around the
// object that arrived, which must be alone in a segment a constructor made.
func (s *shared[T]) Adopt(obj shm.Shareable) error {
	p, ok := any(obj).(*T)
	if !ok {
		return fmt.Errorf("%w: a %T cannot become a Shared%s", ErrInvalid, obj, typeName[T]())
	}
	seg, off, err := shm.Locate(unsafe.Pointer(p))
	if err != nil {
		return err
	}
	if off != 0 || seg.Kind() != "sem."+typeName[T]() {
		return fmt.Errorf("%w: a %s at offset %d of a %q segment is not one a constructor made", ErrInvalid, typeName[T](), off, seg.Kind())
	}
	s.p, s.Handle = p, &object.Handle{}
	s.Bind(seg)
	return nil
}

// typeName is T's name in this package: "Mutex", "Barrier", ….
func typeName[T Object]() string {
	var t T
	return fmt.Sprintf("%T", t)[len("sem."):]
}

// SharedMutex is a Mutex alone in a segment of its own, made whole by one call: Python's Lock(). It
// has the Mutex's methods, plus Close (this process detaches; after it every method is
// ErrClosed), Unlink, Segment and Mutex (the in-place object, for code written against *Mutex).
// It travels in a procs entry's argument as it is. Close must not race with the other methods.
type SharedMutex struct{ shared[Mutex] }

// NewMutex makes an anonymous Mutex: it lives while a process has it, and travels
// to children in an entry's argument.
func NewMutex(opts ...shm.Option) (*SharedMutex, error) {
	return build[Mutex, SharedMutex](object.Make(specMutex(0), "", opts))
}

// CreateMutex makes the Mutex called name; ErrExist if the name is taken.
func CreateMutex(name string, opts ...shm.Option) (*SharedMutex, error) {
	return create[Mutex, SharedMutex](name, specMutex(0), opts)
}

// OpenMutex attaches the Mutex called name; ErrNotExist if there is none, shm.ErrKind if the name
// holds another kind of object.
func OpenMutex(name string, opts ...shm.Option) (*SharedMutex, error) {
	return build[Mutex, SharedMutex](object.Open(specMutex(0), name, opts))
}

// OpenOrCreateMutex attaches the Mutex called name, or makes it if the name is free
// (two processes racing on a fresh name get one Mutex).
func OpenOrCreateMutex(name string, opts ...shm.Option) (*SharedMutex, error) {
	return openOrCreate[Mutex, SharedMutex](name, specMutex(0), opts)
}

// Mutex returns the in-place Mutex (valid until Close), for code written against *Mutex.
func (s *SharedMutex) Mutex() *Mutex { return s.p }

// Lock locks the Mutex (see Mutex.Lock).
func (s *SharedMutex) Lock() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Lock()
}

// LockContext is Lock that gives up with ctx's error when ctx ends.
func (s *SharedMutex) LockContext(ctx context.Context) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.LockContext(ctx)
}

// TryLock locks the Mutex if that needs no wait (see Mutex.TryLock).
func (s *SharedMutex) TryLock() (bool, error) {
	if s.Closed() {
		return false, ErrClosed
	}
	return s.p.TryLock()
}

// Unlock releases the Mutex (see Mutex.Unlock).
func (s *SharedMutex) Unlock() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Unlock()
}

// Consistent marks a Mutex taken over from a dead owner as repaired.
func (s *SharedMutex) Consistent() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Consistent()
}

// SharedRMutex is a RMutex alone in a segment of its own, made whole by one call: Python's RLock(). It
// has the RMutex's methods, plus Close (this process detaches; after it every method is
// ErrClosed), Unlink, Segment and RMutex (the in-place object, for code written against *RMutex).
// It travels in a procs entry's argument as it is. Close must not race with the other methods.
type SharedRMutex struct{ shared[RMutex] }

// NewRMutex makes an anonymous RMutex: it lives while a process has it, and travels
// to children in an entry's argument.
func NewRMutex(opts ...shm.Option) (*SharedRMutex, error) {
	return build[RMutex, SharedRMutex](object.Make(specRMutex(0), "", opts))
}

// CreateRMutex makes the RMutex called name; ErrExist if the name is taken.
func CreateRMutex(name string, opts ...shm.Option) (*SharedRMutex, error) {
	return create[RMutex, SharedRMutex](name, specRMutex(0), opts)
}

// OpenRMutex attaches the RMutex called name; ErrNotExist if there is none, shm.ErrKind if the name
// holds another kind of object.
func OpenRMutex(name string, opts ...shm.Option) (*SharedRMutex, error) {
	return build[RMutex, SharedRMutex](object.Open(specRMutex(0), name, opts))
}

// OpenOrCreateRMutex attaches the RMutex called name, or makes it if the name is free
// (two processes racing on a fresh name get one RMutex).
func OpenOrCreateRMutex(name string, opts ...shm.Option) (*SharedRMutex, error) {
	return openOrCreate[RMutex, SharedRMutex](name, specRMutex(0), opts)
}

// RMutex returns the in-place RMutex (valid until Close), for code written against *RMutex.
func (s *SharedRMutex) RMutex() *RMutex { return s.p }

// Lock locks the RMutex for o, or deepens o's hold.
func (s *SharedRMutex) Lock(o Owner) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Lock(o)
}

// LockContext is Lock that gives up with ctx's error when ctx ends.
func (s *SharedRMutex) LockContext(ctx context.Context, o Owner) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.LockContext(ctx, o)
}

// TryLock locks the RMutex for o if that needs no wait.
func (s *SharedRMutex) TryLock(o Owner) (bool, error) {
	if s.Closed() {
		return false, ErrClosed
	}
	return s.p.TryLock(o)
}

// Unlock undoes one Lock by o.
func (s *SharedRMutex) Unlock(o Owner) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Unlock(o)
}

// Consistent marks an RMutex taken over from a dead owner as repaired.
func (s *SharedRMutex) Consistent(o Owner) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Consistent(o)
}

// SharedSemaphore is a Semaphore alone in a segment of its own, made whole by one call: Python's Semaphore(). It
// has the Semaphore's methods, plus Close (this process detaches; after it every method is
// ErrClosed), Unlink, Segment and Semaphore (the in-place object, for code written against *Semaphore).
// It travels in a procs entry's argument as it is. Close must not race with the other methods.
type SharedSemaphore struct{ shared[Semaphore] }

// NewSemaphore makes an anonymous Semaphore with n permits: it lives while a process has it, and travels
// to children in an entry's argument.
func NewSemaphore(n int, opts ...shm.Option) (*SharedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: semaphore of %d permits (want 0 to %d)", ErrInvalid, n, MaxPermits)
	}
	return build[Semaphore, SharedSemaphore](object.Make(specSemaphore(n), "", opts))
}

// CreateSemaphore makes the Semaphore called name with n permits; ErrExist if the name is taken.
func CreateSemaphore(name string, n int, opts ...shm.Option) (*SharedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: semaphore of %d permits (want 0 to %d)", ErrInvalid, n, MaxPermits)
	}
	return create[Semaphore, SharedSemaphore](name, specSemaphore(n), opts)
}

// OpenSemaphore attaches the Semaphore called name; ErrNotExist if there is none, shm.ErrKind if the name
// holds another kind of object.
func OpenSemaphore(name string, opts ...shm.Option) (*SharedSemaphore, error) {
	return build[Semaphore, SharedSemaphore](object.Open(specSemaphore(0), name, opts))
}

// OpenOrCreateSemaphore attaches the Semaphore called name, or makes it with n permits if the name is free
// (two processes racing on a fresh name get one Semaphore). An existing one keeps its own count.
func OpenOrCreateSemaphore(name string, n int, opts ...shm.Option) (*SharedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: semaphore of %d permits (want 0 to %d)", ErrInvalid, n, MaxPermits)
	}
	return openOrCreate[Semaphore, SharedSemaphore](name, specSemaphore(n), opts)
}

// Semaphore returns the in-place Semaphore (valid until Close), for code written against *Semaphore.
func (s *SharedSemaphore) Semaphore() *Semaphore { return s.p }

// Acquire takes a permit, sleeping until one is free.
func (s *SharedSemaphore) Acquire() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Acquire()
}

// AcquireContext is Acquire that gives up with ctx's error when ctx ends.
func (s *SharedSemaphore) AcquireContext(ctx context.Context) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.AcquireContext(ctx)
}

// TryAcquire takes a permit if one is free now (never after Close).
func (s *SharedSemaphore) TryAcquire() bool { return !s.Closed() && s.p.TryAcquire() }

// Release gives back one permit.
func (s *SharedSemaphore) Release() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Release()
}

// ReleaseN gives back n permits.
func (s *SharedSemaphore) ReleaseN(n int) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.ReleaseN(n)
}

// SharedBoundedSemaphore is a BoundedSemaphore alone in a segment of its own, made whole by one call: Python's BoundedSemaphore(). It
// has the BoundedSemaphore's methods, plus Close (this process detaches; after it every method is
// ErrClosed), Unlink, Segment and BoundedSemaphore (the in-place object, for code written against *BoundedSemaphore).
// It travels in a procs entry's argument as it is. Close must not race with the other methods.
type SharedBoundedSemaphore struct{ shared[BoundedSemaphore] }

// NewBoundedSemaphore makes an anonymous BoundedSemaphore with n permits: it lives while a process has it, and travels
// to children in an entry's argument.
func NewBoundedSemaphore(n int, opts ...shm.Option) (*SharedBoundedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: bounded semaphore of %d permits (want 0 to %d)", ErrInvalid, n, MaxPermits)
	}
	return build[BoundedSemaphore, SharedBoundedSemaphore](object.Make(specBoundedSemaphore(n), "", opts))
}

// CreateBoundedSemaphore makes the BoundedSemaphore called name with n permits; ErrExist if the name is taken.
func CreateBoundedSemaphore(name string, n int, opts ...shm.Option) (*SharedBoundedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: bounded semaphore of %d permits (want 0 to %d)", ErrInvalid, n, MaxPermits)
	}
	return create[BoundedSemaphore, SharedBoundedSemaphore](name, specBoundedSemaphore(n), opts)
}

// OpenBoundedSemaphore attaches the BoundedSemaphore called name; ErrNotExist if there is none, shm.ErrKind if the name
// holds another kind of object.
func OpenBoundedSemaphore(name string, opts ...shm.Option) (*SharedBoundedSemaphore, error) {
	return build[BoundedSemaphore, SharedBoundedSemaphore](object.Open(specBoundedSemaphore(0), name, opts))
}

// OpenOrCreateBoundedSemaphore attaches the BoundedSemaphore called name, or makes it with n permits if the name is free
// (two processes racing on a fresh name get one BoundedSemaphore). An existing one keeps its own count.
func OpenOrCreateBoundedSemaphore(name string, n int, opts ...shm.Option) (*SharedBoundedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: bounded semaphore of %d permits (want 0 to %d)", ErrInvalid, n, MaxPermits)
	}
	return openOrCreate[BoundedSemaphore, SharedBoundedSemaphore](name, specBoundedSemaphore(n), opts)
}

// BoundedSemaphore returns the in-place BoundedSemaphore (valid until Close), for code written against *BoundedSemaphore.
func (s *SharedBoundedSemaphore) BoundedSemaphore() *BoundedSemaphore { return s.p }

// Acquire takes a permit, sleeping until one is free.
func (s *SharedBoundedSemaphore) Acquire() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Acquire()
}

// AcquireContext is Acquire that gives up with ctx's error when ctx ends.
func (s *SharedBoundedSemaphore) AcquireContext(ctx context.Context) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.AcquireContext(ctx)
}

// TryAcquire takes a permit if one is free now (never after Close).
func (s *SharedBoundedSemaphore) TryAcquire() bool { return !s.Closed() && s.p.TryAcquire() }

// Release gives back a permit; ErrOverRelease beyond the bound.
func (s *SharedBoundedSemaphore) Release() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Release()
}

// SharedCond is a Cond alone in a segment of its own, made whole by one call: Python's Condition(). It
// has the Cond's methods, plus Close (this process detaches; after it every method is
// ErrClosed), Unlink, Segment and Cond (the in-place object, for code written against *Cond).
// It travels in a procs entry's argument as it is. Close must not race with the other methods.
type SharedCond struct{ shared[Cond] }

// NewCond makes an anonymous Cond: it lives while a process has it, and travels
// to children in an entry's argument.
func NewCond(opts ...shm.Option) (*SharedCond, error) {
	return build[Cond, SharedCond](object.Make(specCond(0), "", opts))
}

// CreateCond makes the Cond called name; ErrExist if the name is taken.
func CreateCond(name string, opts ...shm.Option) (*SharedCond, error) {
	return create[Cond, SharedCond](name, specCond(0), opts)
}

// OpenCond attaches the Cond called name; ErrNotExist if there is none, shm.ErrKind if the name
// holds another kind of object.
func OpenCond(name string, opts ...shm.Option) (*SharedCond, error) {
	return build[Cond, SharedCond](object.Open(specCond(0), name, opts))
}

// OpenOrCreateCond attaches the Cond called name, or makes it if the name is free
// (two processes racing on a fresh name get one Cond).
func OpenOrCreateCond(name string, opts ...shm.Option) (*SharedCond, error) {
	return openOrCreate[Cond, SharedCond](name, specCond(0), opts)
}

// Cond returns the in-place Cond (valid until Close), for code written against *Cond.
func (s *SharedCond) Cond() *Cond { return s.p }

// Wait unlocks m, sleeps until Signal or Broadcast, and locks m again (see Cond.Wait).
func (s *SharedCond) Wait(m *Mutex) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Wait(m)
}

// WaitContext is Wait that stops waiting when ctx ends (see Cond.WaitContext).
func (s *SharedCond) WaitContext(ctx context.Context, m *Mutex) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.WaitContext(ctx, m)
}

// WaitFor waits until pred holds (see Cond.WaitFor).
func (s *SharedCond) WaitFor(ctx context.Context, m *Mutex, pred func() bool) (bool, error) {
	if s.Closed() {
		return false, ErrClosed
	}
	return s.p.WaitFor(ctx, m, pred)
}

// Signal lets one waiter return, if any waits.
func (s *SharedCond) Signal() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Signal()
}

// Broadcast lets every waiter return.
func (s *SharedCond) Broadcast() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Broadcast()
}

// SharedEvent is a Event alone in a segment of its own, made whole by one call: Python's Event(). It
// has the Event's methods, plus Close (this process detaches; after it every method is
// ErrClosed), Unlink, Segment and Event (the in-place object, for code written against *Event).
// It travels in a procs entry's argument as it is. Close must not race with the other methods.
type SharedEvent struct{ shared[Event] }

// NewEvent makes an anonymous Event: it lives while a process has it, and travels
// to children in an entry's argument.
func NewEvent(opts ...shm.Option) (*SharedEvent, error) {
	return build[Event, SharedEvent](object.Make(specEvent(0), "", opts))
}

// CreateEvent makes the Event called name; ErrExist if the name is taken.
func CreateEvent(name string, opts ...shm.Option) (*SharedEvent, error) {
	return create[Event, SharedEvent](name, specEvent(0), opts)
}

// OpenEvent attaches the Event called name; ErrNotExist if there is none, shm.ErrKind if the name
// holds another kind of object.
func OpenEvent(name string, opts ...shm.Option) (*SharedEvent, error) {
	return build[Event, SharedEvent](object.Open(specEvent(0), name, opts))
}

// OpenOrCreateEvent attaches the Event called name, or makes it if the name is free
// (two processes racing on a fresh name get one Event).
func OpenOrCreateEvent(name string, opts ...shm.Option) (*SharedEvent, error) {
	return openOrCreate[Event, SharedEvent](name, specEvent(0), opts)
}

// Event returns the in-place Event (valid until Close), for code written against *Event.
func (s *SharedEvent) Event() *Event { return s.p }

// Set sets the flag and wakes every waiter.
func (s *SharedEvent) Set() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Set()
}

// Clear clears the flag.
func (s *SharedEvent) Clear() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Clear()
}

// IsSet reports whether the flag is set (false after Close).
func (s *SharedEvent) IsSet() bool { return !s.Closed() && s.p.IsSet() }

// Wait returns once the flag is set.
func (s *SharedEvent) Wait() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Wait()
}

// WaitContext is Wait that gives up with ctx's error when ctx ends.
func (s *SharedEvent) WaitContext(ctx context.Context) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.WaitContext(ctx)
}

// SharedBarrier is a Barrier alone in a segment of its own, made whole by one call: Python's Barrier(). It
// has the Barrier's methods, plus Close (this process detaches; after it every method is
// ErrClosed), Unlink, Segment and Barrier (the in-place object, for code written against *Barrier).
// It travels in a procs entry's argument as it is. Close must not race with the other methods.
type SharedBarrier struct{ shared[Barrier] }

// NewBarrier makes an anonymous Barrier for parties parties: it lives while a process has it, and travels
// to children in an entry's argument.
func NewBarrier(parties int, opts ...shm.Option) (*SharedBarrier, error) {
	if parties < 1 || parties > MaxParties {
		return nil, fmt.Errorf("%w: %d parties (want 1 to %d)", ErrInvalid, parties, MaxParties)
	}
	return build[Barrier, SharedBarrier](object.Make(specBarrier(parties, opts), "", opts))
}

// CreateBarrier makes the Barrier called name for parties parties; ErrExist if the name is taken.
func CreateBarrier(name string, parties int, opts ...shm.Option) (*SharedBarrier, error) {
	if parties < 1 || parties > MaxParties {
		return nil, fmt.Errorf("%w: %d parties (want 1 to %d)", ErrInvalid, parties, MaxParties)
	}
	return create[Barrier, SharedBarrier](name, specBarrier(parties, opts), opts)
}

// OpenBarrier attaches the Barrier called name; ErrNotExist if there is none, shm.ErrKind if the name
// holds another kind of object.
func OpenBarrier(name string, opts ...shm.Option) (*SharedBarrier, error) {
	return build[Barrier, SharedBarrier](object.Open(specBarrier(0, nil), name, opts))
}

// OpenOrCreateBarrier attaches the Barrier called name, or makes it for parties parties if the
// name is free (two processes racing on a fresh name get one Barrier). An existing one must
// have as many parties.
func OpenOrCreateBarrier(name string, parties int, opts ...shm.Option) (*SharedBarrier, error) {
	if parties < 1 || parties > MaxParties {
		return nil, fmt.Errorf("%w: %d parties (want 1 to %d)", ErrInvalid, parties, MaxParties)
	}
	s, err := openOrCreate[Barrier, SharedBarrier](name, specBarrier(parties, opts), opts)
	if err != nil {
		return nil, err
	}
	if got := s.p.Parties(); got != parties {
		_ = s.Close()
		return nil, fmt.Errorf("%w: barrier %q has %d parties, not %d", ErrInvalid, name, got, parties)
	}
	return s, nil
}

// Barrier returns the in-place Barrier (valid until Close), for code written against *Barrier.
func (s *SharedBarrier) Barrier() *Barrier { return s.p }

// Wait blocks until every party has called Wait (see Barrier.Wait).
func (s *SharedBarrier) Wait() (int, error) {
	if s.Closed() {
		return 0, ErrClosed
	}
	return s.p.Wait()
}

// WaitContext is Wait that gives up when ctx ends, breaking the barrier.
func (s *SharedBarrier) WaitContext(ctx context.Context) (int, error) {
	if s.Closed() {
		return 0, ErrClosed
	}
	return s.p.WaitContext(ctx)
}

// Abort breaks the barrier.
func (s *SharedBarrier) Abort() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Abort()
}

// Reset returns the barrier to its empty state.
func (s *SharedBarrier) Reset() error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Reset()
}

// Snapshots, for diagnostics: each reads as zero after Close.

// Locked reports whether some process holds the Mutex.
func (s *SharedMutex) Locked() bool { return !s.Closed() && s.p.Locked() }

// OwnerPID returns the pid of the process holding the Mutex, or 0.
func (s *SharedMutex) OwnerPID() int { return snapshot(s.Closed(), s.p.OwnerPID) }

// Depth returns how many times the holder has locked the RMutex.
func (s *SharedRMutex) Depth() int { return snapshot(s.Closed(), s.p.Depth) }

// Value returns the number of free permits.
func (s *SharedSemaphore) Value() int { return snapshot(s.Closed(), s.p.Value) }

// Value returns the number of free permits.
func (s *SharedBoundedSemaphore) Value() int { return snapshot(s.Closed(), s.p.Value) }

// Bound returns the initial value, beyond which Release fails.
func (s *SharedBoundedSemaphore) Bound() int { return snapshot(s.Closed(), s.p.Bound) }

// Waiting returns how many waiters have not been notified.
func (s *SharedCond) Waiting() int { return snapshot(s.Closed(), s.p.Waiting) }

// Parties returns the number of parties.
func (s *SharedBarrier) Parties() int { return snapshot(s.Closed(), s.p.Parties) }

// Waiting returns how many parties wait in the current generation.
func (s *SharedBarrier) Waiting() int { return snapshot(s.Closed(), s.p.Waiting) }

// Broken reports whether the barrier is broken.
func (s *SharedBarrier) Broken() bool { return !s.Closed() && s.p.Broken() }

// Expect implements shm.Expecter: process pid, just started, is about to attach the barrier.
func (s *SharedBarrier) Expect(pid int) error {
	if s.Closed() {
		return ErrClosed
	}
	return s.p.Expect(pid)
}

func snapshot(closed bool, read func() int) int {
	if closed {
		return 0
	}
	return read()
}
