package sem

import (
	"context"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/futex"
)

// A Cond is a condition variable in shared memory, used with a Mutex: Python's Condition. The
// zero value is ready.
//
//	0            4            8                        16
//	+------------+------------+------------------------+
//	| sequence   | (zero)     | waiting | tokens       |
//	+------------+------------+------------------------+
//
// state (offset 8, one atomic u64) holds two counts: waiting, the waiters not yet notified,
// in the high half, and tokens, the notifications not yet taken, in the low half. A waiter
// adds itself to waiting before it unlocks the Mutex; Signal moves one waiter from waiting to
// tokens, Broadcast moves them all, and each returning waiter takes one token, so a Signal
// lets exactly one waiter return, whether the waiters sleep with a deadline or not. A waiter
// whose context ends takes itself out of waiting, or, if a notification has already moved it,
// takes a token and returns as notified, so no notification is lost to a departure.
//
// sequence is the futex word: every notification bumps it after moving the counts, and a
// waiter reads it before it looks for a token, so it never sleeps through a token meant for
// it. Tokens are not addressed: which waiter returns is unspecified (as in CPython). A waiter
// killed in its sleep leaves a count behind that one later Signal may spend on it; a waiter
// that comes later then returns at once, which a condition variable allows (check the
// condition in a loop, as always).
type Cond struct {
	seq   uint32
	_     uint32
	state uint64 // waiting << 32 | tokens
}

const oneWaiter = 1 << 32

// Wait unlocks m, sleeps until Signal or Broadcast, and locks m again before it returns. The
// caller must hold m. Errors are those of m.Unlock and m.Lock (ErrOwnerDead included: the lock
// is then held).
func (c *Cond) Wait(m *Mutex) error { return c.WaitContext(context.Background(), m) }

// WaitContext is Wait that stops waiting when ctx ends; it still locks m again before
// returning ctx's error, so the caller holds m on every return but ErrNotOwner. A waiter that
// was notified as ctx ended returns nil: the notification is not lost.
func (c *Cond) WaitContext(ctx context.Context, m *Mutex) error {
	atomic.AddUint64(&c.state, oneWaiter)
	if err := m.Unlock(); err != nil {
		if !c.withdraw() { // take this waiter out again, or the token a notification left it
			c.takeToken()
		}
		return err
	}
	var err error
	for {
		seq := atomic.LoadUint32(&c.seq) // before the look for a token: see Cond
		if c.takeToken() {
			err = nil
			break
		}
		if err != nil && c.withdraw() {
			break
		}
		if err == nil {
			err = futex.Park(ctx, &c.seq, seq, 0)
		}
	}
	if lerr := m.Lock(); lerr != nil {
		return lerr
	}
	return err
}

// takeToken takes one notification, if there is one.
func (c *Cond) takeToken() bool {
	for {
		s := atomic.LoadUint64(&c.state)
		if uint32(s) == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(&c.state, s, s-1) {
			return true
		}
	}
}

// withdraw takes a waiter out of waiting; false if none is left there, which means a
// notification moved this one to tokens, and it must take its token instead.
func (c *Cond) withdraw() bool {
	for {
		s := atomic.LoadUint64(&c.state)
		if s>>32 == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(&c.state, s, s-oneWaiter) {
			return true
		}
	}
}

// Signal wakes one waiter, if any.
func (c *Cond) Signal() error {
	for {
		s := atomic.LoadUint64(&c.state)
		if s>>32 == 0 {
			return nil // nobody waits: nothing to do, no system call
		}
		if atomic.CompareAndSwapUint64(&c.state, s, s-oneWaiter+1) {
			break
		}
	}
	atomic.AddUint32(&c.seq, 1)
	futex.Wake(&c.seq, 1)
	return nil
}

// Broadcast wakes every waiter.
func (c *Cond) Broadcast() error {
	for {
		s := atomic.LoadUint64(&c.state)
		w := s >> 32
		if w == 0 {
			return nil
		}
		if atomic.CompareAndSwapUint64(&c.state, s, uint64(uint32(s))+w) {
			break
		}
	}
	atomic.AddUint32(&c.seq, 1)
	futex.Wake(&c.seq, -1)
	return nil
}

// Waiting returns how many waiters have not been notified (a snapshot, for diagnostics).
func (c *Cond) Waiting() int {
	return int(atomic.LoadUint64(&c.state) >> 32)
}
