package sem

import (
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/object"
)

// String shows what Python's repr of a Lock shows: who holds it, and whether that process
// still runs.
func (m *Mutex) String() string {
	w := atomic.LoadUint32(&m.word)
	id := w & idMask
	switch {
	case id == 0:
		return "sem.Mutex(unlocked)"
	case alive(id):
		return fmt.Sprintf("sem.Mutex(owner pid %d)", m.OwnerPID())
	default:
		return fmt.Sprintf("sem.Mutex(owner pid %d, dead)", m.OwnerPID())
	}
}

// String shows the lock's holder and how deep it holds it.
func (r *RMutex) String() string {
	if !r.m.Locked() {
		return "sem.RMutex(unlocked)"
	}
	return fmt.Sprintf("sem.RMutex(owner pid %d, depth %d)", r.m.OwnerPID(), r.Depth())
}

// String shows the free permits: Python's <Semaphore(value=n)>.
func (s *Semaphore) String() string { return fmt.Sprintf("sem.Semaphore(value=%d)", s.Value()) }

// String shows the free permits and the bound: Python's <BoundedSemaphore(value, maxvalue)>.
func (b *BoundedSemaphore) String() string {
	return fmt.Sprintf("sem.BoundedSemaphore(value=%d, bound=%d)", b.Value(), b.Bound())
}

// String shows how many wait.
func (c *Cond) String() string { return fmt.Sprintf("sem.Cond(waiting=%d)", c.Waiting()) }

// String shows whether the event is set: Python's <Event(set)>.
func (e *Event) String() string {
	if e.IsSet() {
		return "sem.Event(set)"
	}
	return "sem.Event(unset)"
}

// String shows the parties, how many wait, and whether the barrier is broken.
func (b *Barrier) String() string {
	return fmt.Sprintf("sem.Barrier(parties=%d, waiting=%d, broken=%v)", b.Parties(), b.Waiting(), b.Broken())
}

// String shows the object's name (or that it is anonymous) and its state, as the in-place
// object's String does; "(closed)" once this process closed it.
func (s *shared[T]) String() string {
	name := object.Label(s.Name())
	if s.Closed() {
		return fmt.Sprintf("%s (closed)", name)
	}
	return fmt.Sprintf("%s %v", name, any(s.p))
}
