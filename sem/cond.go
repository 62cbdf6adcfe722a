package sem

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
)

// A Cond is a condition variable in shared memory, used with a Mutex: Python's Condition. The
// zero value is ready.
//
//	0        4        6        8                16
//	+--------+--------+--------+----------------+
//	| seq    |waiting |tokens  | (zero)         |
//	+--------+--------+--------+----------------+
//
// state (offset 0, one atomic u64) holds three fields that change together: seq, the futex
// word, bumped by every notification; waiting, the waiters not yet notified; and tokens, the
// notifications not yet taken. A waiter adds itself to waiting before it unlocks the Mutex,
// and notes the seq it arrived at; Signal moves one waiter from waiting to tokens, Broadcast
// moves them all, each bumping seq in the same atomic step; a returning waiter takes one
// token. A waiter may take a token only once seq has moved past its arrival, so a
// notification goes to a waiter that was waiting when it was made, never to one that came
// after (which would leave the one it was meant for asleep: CPython's wait_for test pattern,
// where the notifier then waits itself, deadlocked that way). So a Signal lets exactly one
// waiter return, whether the waiters sleep with a deadline or not. A waiter whose context
// ends takes itself out of waiting, or, if a notification has already moved it, takes a token
// and returns as notified, so no notification is lost to a departure. Tokens are not addressed
// beyond that: which of the eligible waiters returns is unspecified (as in CPython). A waiter
// killed in its sleep leaves a count behind that one later Signal may spend on it. At most
// 65535 waiters wait at once (ErrTooMany beyond).
type Cond struct {
	state uint64 // tokens << 48 | waiting << 32 | seq
	_     uint64
}

const (
	oneWaiter = 1 << 32
	oneToken  = 1 << 48
	maxCount  = 1<<16 - 1
)

func condWaiting(s uint64) uint64 { return s >> 32 & maxCount }
func condTokens(s uint64) uint64  { return s >> 48 }

// seqWord is the futex word: the low half of state (little-endian is enforced at build).
func (c *Cond) seqWord() *uint32 { return (*uint32)(unsafe.Pointer(&c.state)) }

// Wait unlocks m, sleeps until Signal or Broadcast, and locks m again before it returns. The
// caller must hold m. Errors are those of m.Unlock and m.Lock (ErrOwnerDead included: the lock
// is then held).
func (c *Cond) Wait(m *Mutex) error { return c.WaitContext(context.Background(), m) }

// WaitContext is Wait that stops waiting when ctx ends; it still locks m again before
// returning ctx's error, so the caller holds m on every return but ErrNotOwner. A waiter that
// was notified as ctx ended returns nil: the notification is not lost.
func (c *Cond) WaitContext(ctx context.Context, m *Mutex) error {
	var arrival uint32
	for {
		s := atomic.LoadUint64(&c.state)
		if condWaiting(s) == maxCount {
			return fmt.Errorf("%w: %d waiters on a Cond", ErrTooMany, maxCount)
		}
		if atomic.CompareAndSwapUint64(&c.state, s, s+oneWaiter) {
			arrival = uint32(s)
			break
		}
	}
	if err := m.Unlock(); err != nil {
		if !c.withdraw() { // take this waiter out again, or the token a notification left it
			c.takeToken(arrival)
		}
		return err
	}
	var err error
	for {
		s := atomic.LoadUint64(&c.state)
		if c.takeToken(arrival) {
			err = nil
			break
		}
		if err != nil && c.withdraw() {
			break
		}
		if err == nil {
			err = futex.Park(ctx, c.seqWord(), uint32(s), 0)
		}
	}
	if lerr := m.Lock(); lerr != nil {
		return lerr
	}
	return err
}

// WaitFor waits until pred returns true: Python's Condition.wait_for. The caller must hold m;
// pred is called with m held, first before any wait and again after each wake. It returns
// true and nil once pred holds. If ctx ends first, it checks pred once more and returns its
// result, with ctx's error if that is false (CPython returns the predicate's last value on a
// timeout). The caller holds m on return, as with WaitContext.
func (c *Cond) WaitFor(ctx context.Context, m *Mutex, pred func() bool) (bool, error) {
	for !pred() {
		if err := c.WaitContext(ctx, m); err != nil {
			if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
				return false, err // the lock's error, not a timeout
			}
			if pred() {
				return true, nil
			}
			return false, err
		}
	}
	return true, nil
}

// takeToken takes one notification, if there is one and one has been made since arrival.
func (c *Cond) takeToken(arrival uint32) bool {
	for {
		s := atomic.LoadUint64(&c.state)
		if condTokens(s) == 0 || uint32(s) == arrival {
			return false
		}
		if atomic.CompareAndSwapUint64(&c.state, s, s-oneToken) {
			return true
		}
	}
}

// withdraw takes a waiter out of waiting; false if none is left there, which means a
// notification moved this one to tokens, and it must take its token instead.
func (c *Cond) withdraw() bool {
	for {
		s := atomic.LoadUint64(&c.state)
		if condWaiting(s) == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(&c.state, s, s-oneWaiter) {
			return true
		}
	}
}

// notify moves up to n waiters from waiting to tokens and bumps seq, in one step, then wakes
// the sleepers: all of them, since a sleeper that arrived after the notification may not take
// it and goes back to sleep, and the one it is for must not be left asleep.
func (c *Cond) notify(n uint64) {
	for {
		s := atomic.LoadUint64(&c.state)
		w := min(condWaiting(s), n)
		if w == 0 {
			return // nobody waits: nothing to do, no system call
		}
		next := s&^(1<<32-1) | uint64(uint32(s)+1)
		if atomic.CompareAndSwapUint64(&c.state, s, next-w*oneWaiter+w*oneToken) {
			break
		}
	}
	futex.Wake(c.seqWord(), -1)
}

// Signal wakes one waiter, if any.
func (c *Cond) Signal() error {
	c.notify(1)
	return nil
}

// Broadcast wakes every waiter.
func (c *Cond) Broadcast() error {
	c.notify(maxCount)
	return nil
}

// Waiting returns how many waiters have not been notified (a snapshot, for diagnostics).
func (c *Cond) Waiting() int {
	return int(condWaiting(atomic.LoadUint64(&c.state)))
}
