package sem

import (
	"fmt"
	"unsafe"

	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/shm"
)

// Object is the set of types this package lays out in shared memory.
type Object interface {
	Mutex | RMutex | Semaphore | BoundedSemaphore | Cond | Event | Barrier
}

// Align is the alignment every Object needs: offsets given to At must be multiples of it.
const Align = 8

// Sizeof returns the bytes a T occupies in shared memory, for laying out a segment.
func Sizeof[T Object]() int {
	var t T
	return int(unsafe.Sizeof(t))
}

// At returns the T that lives at b[off:], where b is shared memory such as a Segment's Bytes.
// It fails with ErrOutOfRange if a T does not fit there and ErrMisaligned if the address is not
// a multiple of Align. The zero bytes of a fresh segment are a ready (unlocked, clear, empty) T;
// BoundedSemaphore and Barrier also need Init.
func At[T Object](b []byte, off int) (*T, error) {
	// Sound: every Object is fixed-size and pointer-free, object.At checks the range and the
	// alignment, and the memory stays mapped while a pointer into it lives (the GC rule).
	p, err := object.At[T](b, off, Align)
	if err != nil {
		return nil, fmt.Errorf("sem: %w", err)
	}
	return p, nil
}

// Each type travels to a child process (inside a procs entry's argument) as the segment it
// lives in plus its offset there; the child gets a pointer into its own mapping.
const (
	typeMutex            = "sem.Mutex"
	typeRMutex           = "sem.RMutex"
	typeSemaphore        = "sem.Semaphore"
	typeBoundedSemaphore = "sem.BoundedSemaphore"
	typeCond             = "sem.Cond"
	typeEvent            = "sem.Event"
	typeBarrier          = "sem.Barrier"
)

func init() {
	shm.Register(typeMutex, attach[Mutex])
	shm.Register(typeRMutex, attach[RMutex])
	shm.Register(typeSemaphore, attach[Semaphore])
	shm.Register(typeBoundedSemaphore, attach[BoundedSemaphore])
	shm.Register(typeCond, attach[Cond])
	shm.Register(typeEvent, attach[Event])
	shm.Register(typeBarrier, attach[Barrier])
}

func attach[T Object](h shm.Handle) (shm.Shareable, error) {
	p, err := At[T](h.Segment.Bytes(), int(h.Offset))
	if err != nil {
		return nil, err
	}
	if err := joinMembers(p, h.Segment); err != nil {
		return nil, err
	}
	return any(p).(shm.Shareable), nil
}

// memberKeeper is an object that keeps a list of the processes attached to it (a Barrier).
type memberKeeper interface {
	attachMember(seg *shm.Segment) error
}

// joinMembers records this process in p's member list, if p keeps one, until seg is closed.
func joinMembers(p any, seg *shm.Segment) error {
	if m, ok := p.(memberKeeper); ok {
		return m.attachMember(seg)
	}
	return nil
}

// handleOf finds the segment p lives in; only objects inside an open segment can travel.
func handleOf[T Object](p *T, typ string) (shm.Handle, error) {
	if p == nil {
		return shm.Handle{}, ErrClosed
	}
	seg, off, err := shm.Locate(unsafe.Pointer(p))
	if err != nil {
		return shm.Handle{}, fmt.Errorf("sem: share %s: %w", typ, err)
	}
	return shm.Handle{Type: typ, Segment: seg, Offset: off}, nil
}

// ShareHandle implements shm.Shareable.
func (m *Mutex) ShareHandle() (shm.Handle, error) { return handleOf(m, typeMutex) }

// ShareHandle implements shm.Shareable.
func (r *RMutex) ShareHandle() (shm.Handle, error) { return handleOf(r, typeRMutex) }

// ShareHandle implements shm.Shareable.
func (s *Semaphore) ShareHandle() (shm.Handle, error) { return handleOf(s, typeSemaphore) }

// ShareHandle implements shm.Shareable.
func (b *BoundedSemaphore) ShareHandle() (shm.Handle, error) {
	return handleOf(b, typeBoundedSemaphore)
}

// ShareHandle implements shm.Shareable.
func (c *Cond) ShareHandle() (shm.Handle, error) { return handleOf(c, typeCond) }

// ShareHandle implements shm.Shareable.
func (e *Event) ShareHandle() (shm.Handle, error) { return handleOf(e, typeEvent) }

// ShareHandle implements shm.Shareable.
func (b *Barrier) ShareHandle() (shm.Handle, error) { return handleOf(b, typeBarrier) }
