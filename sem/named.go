package sem

import (
	"errors"
	"fmt"

	"github.com/shmkit/shmkit/shm"
)

// Named objects live alone in a small segment found by name: Open… creates it, or attaches it
// if it exists (checking its kind and layout, so a Semaphore's name opened as a Mutex is
// shm.ErrKind). Each embeds a pointer to its object, so it has all the object's methods, plus
// Close, Unlink and Segment. After Close the methods return ErrClosed; Close must not race with
// them. To pass a named object to a child, pass the embedded pointer (n.Mutex, …).

type named struct{ seg *shm.Segment }

// Segment returns the segment the object lives in.
func (n named) Segment() *shm.Segment { return n.seg }

// Unlink removes the name; processes that have it open keep using it. A later Open of the
// name makes a new object.
func (n named) Unlink() error { return n.seg.Unlink() }

func openNamed[T Object](name, typ string, init func(*T) error) (*T, named, error) {
	kind := shm.Kind(typ)
	layout := shm.Layout(fmt.Sprintf("%s/v1 size=%d", typ, Sizeof[T]()))
	seg, err := shm.Create(name, Sizeof[T](), kind, layout, shm.Init(func(b []byte) error {
		p, err := At[T](b, 0)
		if err == nil && init != nil {
			err = init(p)
		}
		return err
	}))
	if errors.Is(err, shm.ErrExist) {
		seg, err = shm.Open(name, kind, layout)
	}
	if err != nil {
		return nil, named{}, err
	}
	p, err := At[T](seg.Bytes(), 0)
	if err == nil {
		err = joinMembers(p, seg)
	}
	if err != nil {
		_ = seg.Close()
		return nil, named{}, err
	}
	return p, named{seg}, nil
}

// NamedMutex is a Mutex found by name.
type NamedMutex struct {
	*Mutex
	named
}

// OpenMutex creates or attaches the Mutex called name.
func OpenMutex(name string) (*NamedMutex, error) {
	p, n, err := openNamed[Mutex](name, typeMutex, nil)
	if err != nil {
		return nil, err
	}
	return &NamedMutex{p, n}, nil
}

// Close detaches this process from the Mutex (its name stays; see Unlink).
func (n *NamedMutex) Close() error { n.Mutex = nil; return n.seg.Close() }

// NamedRMutex is an RMutex found by name.
type NamedRMutex struct {
	*RMutex
	named
}

// OpenRMutex creates or attaches the RMutex called name.
func OpenRMutex(name string) (*NamedRMutex, error) {
	p, n, err := openNamed[RMutex](name, typeRMutex, nil)
	if err != nil {
		return nil, err
	}
	return &NamedRMutex{p, n}, nil
}

// Close detaches this process from the RMutex (its name stays; see Unlink).
func (n *NamedRMutex) Close() error { n.RMutex = nil; return n.seg.Close() }

// NamedSemaphore is a Semaphore found by name.
type NamedSemaphore struct {
	*Semaphore
	named
}

// OpenSemaphore creates the Semaphore called name with n permits, or attaches it if it exists
// (n is then ignored, as with sem_open). n must be 0 to MaxPermits.
func OpenSemaphore(name string, n int) (*NamedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: semaphore of %d permits", ErrInvalid, n)
	}
	p, nm, err := openNamed(name, typeSemaphore, func(s *Semaphore) error {
		s.count = uint32(n) // before publication: no other process sees it yet
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &NamedSemaphore{p, nm}, nil
}

// Close detaches this process from the Semaphore (its name stays; see Unlink).
func (n *NamedSemaphore) Close() error { n.Semaphore = nil; return n.seg.Close() }

// NamedBoundedSemaphore is a BoundedSemaphore found by name.
type NamedBoundedSemaphore struct {
	*BoundedSemaphore
	named
}

// OpenBoundedSemaphore creates the BoundedSemaphore called name with n permits and bound n, or
// attaches it if it exists (n is then ignored).
func OpenBoundedSemaphore(name string, n int) (*NamedBoundedSemaphore, error) {
	if n < 0 || n > MaxPermits {
		return nil, fmt.Errorf("%w: bounded semaphore of %d", ErrInvalid, n)
	}
	p, nm, err := openNamed(name, typeBoundedSemaphore, func(b *BoundedSemaphore) error { return b.Init(n) })
	if err != nil {
		return nil, err
	}
	return &NamedBoundedSemaphore{p, nm}, nil
}

// Close detaches this process from the BoundedSemaphore (its name stays; see Unlink).
func (n *NamedBoundedSemaphore) Close() error { n.BoundedSemaphore = nil; return n.seg.Close() }

// NamedCond is a Cond found by name.
type NamedCond struct {
	*Cond
	named
}

// OpenCond creates or attaches the Cond called name.
func OpenCond(name string) (*NamedCond, error) {
	p, n, err := openNamed[Cond](name, typeCond, nil)
	if err != nil {
		return nil, err
	}
	return &NamedCond{p, n}, nil
}

// Close detaches this process from the Cond (its name stays; see Unlink).
func (n *NamedCond) Close() error { n.Cond = nil; return n.seg.Close() }

// NamedEvent is an Event found by name.
type NamedEvent struct {
	*Event
	named
}

// OpenEvent creates or attaches the Event called name.
func OpenEvent(name string) (*NamedEvent, error) {
	p, n, err := openNamed[Event](name, typeEvent, nil)
	if err != nil {
		return nil, err
	}
	return &NamedEvent{p, n}, nil
}

// Close detaches this process from the Event (its name stays; see Unlink).
func (n *NamedEvent) Close() error { n.Event = nil; return n.seg.Close() }

// NamedBarrier is a Barrier found by name.
type NamedBarrier struct {
	*Barrier
	named
}

// OpenBarrier creates the Barrier called name for parties parties, or attaches it if it
// exists (parties must then match).
func OpenBarrier(name string, parties int) (*NamedBarrier, error) {
	if parties < 1 || parties > MaxParties {
		return nil, fmt.Errorf("%w: %d parties (want 1 to %d)", ErrInvalid, parties, MaxParties)
	}
	p, n, err := openNamed(name, typeBarrier, func(b *Barrier) error { return b.Init(parties) })
	if err != nil {
		return nil, err
	}
	if got := p.Parties(); got != parties {
		_ = n.seg.Close()
		return nil, fmt.Errorf("%w: barrier %q has %d parties, not %d", ErrInvalid, name, got, parties)
	}
	return &NamedBarrier{p, n}, nil
}

// Close detaches this process from the Barrier (its name stays; see Unlink).
func (n *NamedBarrier) Close() error { n.Barrier = nil; return n.seg.Close() }
