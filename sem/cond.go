package sem

import (
	"context"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/futex"
)

// A Cond is a condition variable in shared memory, used with a Mutex: Python's Condition. The
// zero value is ready.
//
//	0            4            8
//	+------------+------------+
//	| sequence   | sleepers   |
//	+------------+------------+
//
// Wait reads the sequence before it unlocks the Mutex and sleeps only while the sequence is
// unchanged, and Signal and Broadcast bump it before waking, so a notification that comes after
// Wait unlocked is never lost. As with every condition variable, Wait may also return without
// a notification: check the condition in a loop.
type Cond struct {
	seq      uint32
	sleepers uint32
}

// Wait unlocks m, sleeps until Signal or Broadcast, and locks m again before it returns. The
// caller must hold m. Errors are those of m.Unlock and m.Lock (ErrOwnerDead included: the lock
// is then held).
func (c *Cond) Wait(m *Mutex) error { return c.WaitContext(context.Background(), m) }

// WaitContext is Wait that stops sleeping when ctx ends; it still locks m again before
// returning ctx's error, so the caller holds m on every return but ErrNotOwner.
func (c *Cond) WaitContext(ctx context.Context, m *Mutex) error {
	if c == nil || m == nil {
		return ErrClosed
	}
	seq := atomic.LoadUint32(&c.seq)
	atomic.AddUint32(&c.sleepers, 1)
	if err := m.Unlock(); err != nil {
		atomic.AddUint32(&c.sleepers, ^uint32(0))
		return err
	}
	var err error
	for atomic.LoadUint32(&c.seq) == seq && err == nil {
		err = futex.Park(ctx, &c.seq, seq, 0)
	}
	atomic.AddUint32(&c.sleepers, ^uint32(0))
	if lerr := m.Lock(); lerr != nil {
		return lerr
	}
	return err
}

// Signal wakes one waiter, if any.
func (c *Cond) Signal() error { return c.notify(1) }

// Broadcast wakes every waiter.
func (c *Cond) Broadcast() error { return c.notify(-1) }

func (c *Cond) notify(n int) error {
	if c == nil {
		return ErrClosed
	}
	atomic.AddUint32(&c.seq, 1)
	if atomic.LoadUint32(&c.sleepers) > 0 {
		futex.Wake(&c.seq, n)
	}
	return nil
}
