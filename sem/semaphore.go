package sem

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/futex"
)

// A Semaphore is a counting semaphore in shared memory: Python's multiprocessing.Semaphore.
// The zero value has no permits; Release (or OpenSemaphore's n) adds them.
//
//	0            4            8
//	+------------+------------+
//	| permits    | sleeping   |
//	+------------+------------+
//
// permits is the word sleepers park on; sleeping is 1 while an acquirer may sleep, so Release
// makes a wake system call only when someone may be waiting. An acquirer sets it before its
// last look at permits; Release swaps it to 0 and wakes; a woken acquirer sets it again before
// it looks, and one that leaves with permits still free wakes the next (a baton), so the flag
// never reads 0 while someone sleeps with a permit free. A flag, not a count: an acquirer
// killed in its sleep costs one wasted wake, not one per Release for ever. A process that
// dies holding a permit does not give it back (there is no owner to notice), as in Python.
type Semaphore struct {
	count    uint32
	sleeping uint32
}

// MaxPermits is the most permits a Semaphore holds.
const MaxPermits = math.MaxInt32

// Acquire takes a permit, sleeping until one is free.
func (s *Semaphore) Acquire() error { return s.AcquireContext(context.Background()) }

// AcquireContext is Acquire that gives up with ctx's error when ctx ends.
func (s *Semaphore) AcquireContext(ctx context.Context) error {
	if s.tryTake() {
		return nil
	}
	return s.acquireSlow(ctx)
}

// TryAcquire takes a permit if one is free now.
func (s *Semaphore) TryAcquire() bool {
	return s.tryTake()
}

func (s *Semaphore) tryTake() bool {
	for {
		c := atomic.LoadUint32(&s.count)
		if c == 0 {
			return false
		}
		if atomic.CompareAndSwapUint32(&s.count, c, c-1) {
			return true
		}
	}
}

func (s *Semaphore) acquireSlow(ctx context.Context) error {
	if futex.Spin(s.tryTake) {
		return nil
	}
	// Announce, then re-check: a Release that added a permit either sees the flag (and
	// wakes) or added it before the re-check (and the sleep below returns at once, since the
	// word is no longer 0). Go's atomics are sequentially consistent, which this relies on.
	for {
		atomic.StoreUint32(&s.sleeping, 1)
		if s.tryTake() {
			s.passOn()
			return nil
		}
		if err := futex.Park(ctx, &s.count, 0, futex.CheckSlice); err != nil {
			s.passOn()
			return err
		}
	}
}

// passOn wakes the next sleeper if permits are free: the wake that woke this acquirer cleared
// the flag, and other sleepers may be left behind it.
func (s *Semaphore) passOn() {
	if atomic.LoadUint32(&s.count) != 0 {
		s.wake(1)
	}
}

// wake wakes up to n sleepers if the flag says someone may sleep.
func (s *Semaphore) wake(n int) {
	if atomic.LoadUint32(&s.sleeping) != 0 && atomic.SwapUint32(&s.sleeping, 0) != 0 {
		futex.Wake(&s.count, n)
	}
}

// Release gives back one permit.
func (s *Semaphore) Release() error { return s.ReleaseN(1) }

// ReleaseN gives back n permits (n ≥ 1), waking up to n sleepers.
func (s *Semaphore) ReleaseN(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: release of %d permits", ErrInvalid, n)
	}
	for {
		c := atomic.LoadUint32(&s.count)
		if uint64(c)+uint64(n) > MaxPermits {
			return fmt.Errorf("%w: %d permits plus %d exceeds %d", ErrInvalid, c, n, MaxPermits)
		}
		if atomic.CompareAndSwapUint32(&s.count, c, c+uint32(n)) {
			break
		}
	}
	s.wake(n)
	return nil
}

// Value returns the number of free permits (a snapshot).
func (s *Semaphore) Value() int {
	return int(atomic.LoadUint32(&s.count))
}

// A BoundedSemaphore is a Semaphore that refuses to be released beyond its initial value:
// Python's BoundedSemaphore. Init sets both; the zero value has bound 0, so it must be
// initialised (OpenBoundedSemaphore does it).
//
//	0            8            12           16
//	+------------+------------+------------+
//	| Semaphore  | bound      | (zero)     |
//	+------------+------------+------------+
type BoundedSemaphore struct {
	s     Semaphore
	bound uint32
	_     uint32
}

// Init gives b n permits and the bound n. Call it once, before any process uses b.
func (b *BoundedSemaphore) Init(n int) error {
	if n < 0 || n > MaxPermits {
		return fmt.Errorf("%w: bounded semaphore of %d", ErrInvalid, n)
	}
	atomic.StoreUint32(&b.bound, uint32(n))
	atomic.StoreUint32(&b.s.count, uint32(n))
	return nil
}

// Acquire takes a permit, sleeping until one is free.
func (b *BoundedSemaphore) Acquire() error { return b.AcquireContext(context.Background()) }

// AcquireContext is Acquire that gives up with ctx's error when ctx ends.
func (b *BoundedSemaphore) AcquireContext(ctx context.Context) error {
	return b.s.AcquireContext(ctx)
}

// TryAcquire takes a permit if one is free now.
func (b *BoundedSemaphore) TryAcquire() bool { return b.s.TryAcquire() }

// Release gives back a permit; ErrOverRelease, with the count unchanged, if that would exceed
// the initial value.
func (b *BoundedSemaphore) Release() error {
	bound := atomic.LoadUint32(&b.bound)
	for {
		c := atomic.LoadUint32(&b.s.count)
		if c >= bound {
			return fmt.Errorf("%w: %d of %d permits already free", ErrOverRelease, c, bound)
		}
		if atomic.CompareAndSwapUint32(&b.s.count, c, c+1) {
			break
		}
	}
	b.s.wake(1)
	return nil
}

// Value returns the number of free permits (a snapshot).
func (b *BoundedSemaphore) Value() int {
	return b.s.Value()
}

// Bound returns the initial value, beyond which Release fails.
func (b *BoundedSemaphore) Bound() int {
	return int(atomic.LoadUint32(&b.bound))
}
