package sem

import (
	"context"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/pidinfo"
)

// A Mutex is a robust lock in shared memory: Python's multiprocessing.Lock. The zero value is
// unlocked. Place it in a segment (see At) and lock it from any number of processes.
//
//	0                           4                           8
//	+---------------------------+---------------------------+
//	| lock word                 | sleeping                  |
//	+---------------------------+---------------------------+
//
// The lock word, written only by atomic compare-and-swap:
//
//	 31     30           29 ............ 22  21 ............ 0
//	+------+------------+------------------+------------------+
//	| 0    | owner died | start-time hash  | owner pid        |
//	+------+------------+------------------+------------------+
//
//	0                    unlocked
//	id                   locked by the process id = pid | hash8(start time) << 22
//	id | owner died      locked by id, which took it over from a dead owner and has not yet
//	                     called Consistent
//	owner died alone     not recoverable: never lockable again
//
// sleeping is 1 while a locker may sleep on the word (Drepper's "contended" state, beside the
// word rather than in it). A locker sets it before its last look at the word, and Unlock swaps
// it to 0 after releasing the word and wakes one sleeper if it was 1, so either Unlock sees
// the sleeper and wakes it, or the sleeper sees the free word and does not sleep (Go's atomics
// are sequentially consistent). The woken locker sets it again before it looks, so the flag
// stays 1 while others sleep. A flag, not a count: a locker killed in its sleep leaves one
// wasted wake behind, not a system call on every Unlock for ever. An uncontended Lock+Unlock
// is two compare-and-swaps and a load: no system call.
//
// The owner is a process, not a goroutine: goroutines of one process contend as they would for
// a sync.Mutex, and any of them may unlock it. A locker that finds the owner's process gone
// (its pid absent, or reused by a process with another start time) takes the lock over and
// gets ErrOwnerDead, as a pthread robust mutex does. Sleepers look every 50 ms, so a dead
// owner is noticed within about that long.
type Mutex struct {
	word     uint32
	sleeping uint32
}

const (
	deadBit     = 1 << 30
	idMask      = 1<<30 - 1
	pidBits     = 22      // the pid part of an owner id (see pidinfo.ID)
	unrecovered = deadBit // "owner died", with no owner
)

// selfID is this process's owner id in lock words.
var selfID = uint32(pidinfo.SelfID())

// alive reports whether the process behind an owner id still runs.
func alive(id uint32) bool { return pidinfo.ID(id).Alive() }

// Lock locks m, sleeping while another holds it. It returns nil, ErrOwnerDead (the lock is
// held; repair, then Consistent) or ErrNotRecoverable.
func (m *Mutex) Lock() error {
	// Fast path: one compare-and-swap; atomic, so it orders the critical section after any
	// earlier holder's Unlock.
	if atomic.CompareAndSwapUint32(&m.word, 0, selfID) {
		return nil
	}
	return m.lockSlow(context.Background())
}

// LockContext is Lock that gives up with ctx's error when ctx ends.
func (m *Mutex) LockContext(ctx context.Context) error {
	if atomic.CompareAndSwapUint32(&m.word, 0, selfID) {
		return nil
	}
	return m.lockSlow(ctx)
}

// TryLock locks m if that needs no wait. ok reports whether the caller now holds it; err is
// ErrOwnerDead (held, inconsistent) or ErrNotRecoverable.
func (m *Mutex) TryLock() (ok bool, err error) {
	if atomic.CompareAndSwapUint32(&m.word, 0, selfID) {
		return true, nil
	}
	for {
		old := atomic.LoadUint32(&m.word)
		got, done, err := m.tryTake(old, true)
		if done {
			return got, err
		}
	}
}

// tryTake makes one attempt on the word's value old. done says the outcome is final: got the
// lock (err nil or ErrOwnerDead), or an error. checkOwner allows the liveness check.
func (m *Mutex) tryTake(old uint32, checkOwner bool) (got, done bool, err error) {
	switch {
	case old == unrecovered:
		return false, true, ErrNotRecoverable
	case old == 0:
		return atomic.CompareAndSwapUint32(&m.word, 0, selfID), false, nil
	case checkOwner && old&idMask != selfID && !alive(old&idMask):
		if atomic.CompareAndSwapUint32(&m.word, old, selfID|deadBit) {
			return true, true, ErrOwnerDead
		}
		return false, false, nil
	}
	return false, true, nil // held by a live owner
}

func (m *Mutex) lockSlow(ctx context.Context) error {
	if futex.Spin(func() bool { return atomic.CompareAndSwapUint32(&m.word, 0, selfID) }) {
		return nil
	}
	checked := false // the owner's liveness is checked before the first sleep and after each
	for {
		atomic.StoreUint32(&m.sleeping, 1) // before the last look: see Mutex
		old := atomic.LoadUint32(&m.word)
		got, done, err := m.tryTake(old, !checked)
		checked = true
		if got || (done && err != nil) {
			return err
		}
		if !done {
			continue // the word moved under us
		}
		// Held by a live owner: sleep while the word says so.
		if err := futex.Park(ctx, &m.word, old, futex.CheckSlice); err != nil {
			// The wake that cleared the flag may have been this locker's: set it again for the
			// others, and pass the wake on if the lock is free now.
			atomic.StoreUint32(&m.sleeping, 1)
			if atomic.LoadUint32(&m.word) == 0 {
				m.wake(1)
			}
			return err
		}
		checked = false
	}
}

// Unlock releases m. It fails with ErrNotOwner if this process does not hold it. If the
// holder took it over from a dead owner and did not call Consistent, the Mutex becomes not
// recoverable, and every locker, now and later, gets ErrNotRecoverable.
func (m *Mutex) Unlock() error {
	if atomic.CompareAndSwapUint32(&m.word, selfID, 0) {
		if atomic.LoadUint32(&m.sleeping) != 0 {
			m.wake(1)
		}
		return nil
	}
	return m.unlockSlow()
}

// wake clears the sleeping flag and, if it was set, wakes up to n sleepers.
func (m *Mutex) wake(n int) {
	if atomic.SwapUint32(&m.sleeping, 0) != 0 {
		futex.Wake(&m.word, n)
	}
}

func (m *Mutex) unlockSlow() error {
	for {
		old := atomic.LoadUint32(&m.word)
		if old&idMask != selfID {
			return ErrNotOwner
		}
		next, wake := uint32(0), 1
		if old&deadBit != 0 {
			next, wake = unrecovered, -1 // tell every sleeper
		}
		if atomic.CompareAndSwapUint32(&m.word, old, next) {
			m.wake(wake)
			return nil
		}
	}
}

// Consistent marks a Mutex taken over from a dead owner as repaired, so Unlock releases it
// normally. The caller must hold the lock.
func (m *Mutex) Consistent() error {
	for {
		old := atomic.LoadUint32(&m.word)
		if old&idMask != selfID {
			return ErrNotOwner
		}
		if old&deadBit == 0 || atomic.CompareAndSwapUint32(&m.word, old, old&^deadBit) {
			return nil
		}
	}
}

// Locked reports whether some process holds m (a snapshot, for diagnostics).
func (m *Mutex) Locked() bool {
	w := atomic.LoadUint32(&m.word)
	return w&idMask != 0
}

// OwnerPID returns the pid of the process holding m, or 0.
func (m *Mutex) OwnerPID() int {
	return int(atomic.LoadUint32(&m.word) & (1<<pidBits - 1))
}
