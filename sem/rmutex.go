package sem

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
)

// An Owner identifies who holds an RMutex. Go has no thread identity, so the re-entrancy that
// Python's RLock gives a thread, RMutex gives an Owner token: take one with NewOwner (per
// goroutine, per task, per whatever should re-enter) and pass it to every call. Tokens are
// unique across processes while the process that made them lives.
type Owner uint64

var ownerSeq atomic.Uint32

// NewOwner returns a token no other NewOwner call in any process returns while this process
// lives: this process's pid in the high half, a counter in the low.
func NewOwner() Owner {
	return Owner(uint64(os.Getpid())<<32 | uint64(ownerSeq.Add(1)))
}

// An RMutex is a re-entrant robust lock in shared memory: Python's RLock. The Owner that holds
// it may lock it again; it is released when that Owner has unlocked it as many times.
// The zero value is unlocked.
//
//	0                        8                        16           20           24
//	+------------------------+------------------------+------------+------------+
//	| Mutex                  | owner token            | depth      | (zero)     |
//	+------------------------+------------------------+------------+------------+
//
// The Mutex is laid out as its own doc shows. owner and depth are written only by the holder,
// atomically, so another goroutine of the holding process can read them to decide whether it
// is re-entering.
type RMutex struct {
	m     Mutex
	owner uint64
	depth uint32
	_     uint32
}

// Lock locks r for o, or deepens o's hold. Errors are those of Mutex.Lock.
func (r *RMutex) Lock(o Owner) error { return r.LockContext(context.Background(), o) }

// LockContext is Lock that gives up with ctx's error when ctx ends.
func (r *RMutex) LockContext(ctx context.Context, o Owner) error {
	if r.heldBy(o) {
		atomic.AddUint32(&r.depth, 1)
		return nil
	}
	err := r.m.LockContext(ctx)
	if err == nil || err == ErrOwnerDead {
		atomic.StoreUint64(&r.owner, uint64(o))
		atomic.StoreUint32(&r.depth, 1)
	}
	return err
}

// TryLock is Lock without waiting; ok reports whether o holds r afterwards.
func (r *RMutex) TryLock(o Owner) (ok bool, err error) {
	if r.heldBy(o) {
		atomic.AddUint32(&r.depth, 1)
		return true, nil
	}
	ok, err = r.m.TryLock()
	if ok {
		atomic.StoreUint64(&r.owner, uint64(o))
		atomic.StoreUint32(&r.depth, 1)
	}
	return ok, err
}

func (r *RMutex) heldBy(o Owner) bool {
	return atomic.LoadUint32(&r.m.word)&idMask == selfID && atomic.LoadUint64(&r.owner) == uint64(o)
}

// Unlock undoes one Lock by o, releasing r after the last. ErrNotOwner if o does not hold it.
func (r *RMutex) Unlock(o Owner) error {
	if !r.heldBy(o) {
		return fmt.Errorf("%w: owner %#x", ErrNotOwner, uint64(o))
	}
	if atomic.AddUint32(&r.depth, ^uint32(0)) > 0 {
		return nil
	}
	atomic.StoreUint64(&r.owner, 0)
	return r.m.Unlock()
}

// Consistent marks r repaired after ErrOwnerDead; o must hold it.
func (r *RMutex) Consistent(o Owner) error {
	if !r.heldBy(o) {
		return ErrNotOwner
	}
	return r.m.Consistent()
}

// Depth returns how many times the holder has locked r (0 if unlocked).
func (r *RMutex) Depth() int {
	return int(atomic.LoadUint32(&r.depth))
}
