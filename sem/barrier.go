package sem

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/futex"
)

// MaxParties is the most parties a Barrier takes.
const MaxParties = 1 << 16

// trackedMembers is how many distinct processes a Barrier watches for death.
const trackedMembers = 64

// A Barrier makes a fixed number of parties wait for each other: Python's Barrier. Init sets
// the number of parties (OpenBarrier does it); the zero value has none and every Wait fails.
//
//	0       4       8       12      16                      528
//	+-------+-------+-------+-------+-----------------------+
//	|parties|arrived| gen   |broken | members[64]           |
//	+-------+-------+-------+-------+-----------------------+
//
// gen is the generation, the word sleepers park on: the last party to arrive bumps it. broken
// holds gen+1 of a broken generation (0: none), so the sleepers of that generation, and every
// later arrival until Reset, get ErrBrokenBarrier. members lists (gen | process id) pairs of the
// processes that have waited: a sleeper checks every 50 ms that each member that has not yet
// arrived in this generation still lives, and breaks the barrier if one died, since it would
// never arrive.
type Barrier struct {
	parties uint32
	arrived uint32
	gen     uint32
	broken  uint32
	members [trackedMembers]uint64 // process id << 32 | generation of its last arrival
}

// Init sets the number of parties (1 to MaxParties). Call it once, before any process waits.
func (b *Barrier) Init(parties int) error {
	if b == nil {
		return ErrClosed
	}
	if parties < 1 || parties > MaxParties {
		return fmt.Errorf("%w: %d parties (want 1 to %d)", ErrInvalid, parties, MaxParties)
	}
	atomic.StoreUint32(&b.parties, uint32(parties))
	return nil
}

// Parties returns the number of parties.
func (b *Barrier) Parties() int {
	if b == nil {
		return 0
	}
	return int(atomic.LoadUint32(&b.parties))
}

// Waiting returns how many parties wait in the current generation.
func (b *Barrier) Waiting() int {
	if b == nil {
		return 0
	}
	return int(atomic.LoadUint32(&b.arrived))
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() bool {
	if b == nil {
		return false
	}
	return atomic.LoadUint32(&b.broken) == atomic.LoadUint32(&b.gen)+1
}

// Wait blocks until every party has called Wait, then returns this party's arrival index, 0
// to parties-1 (distinct in each generation). If ctx ends first, or a party dies, or Abort or
// Reset is called, the barrier breaks and every waiter gets ErrBrokenBarrier (the one whose
// ctx ended gets ctx's error joined to it).
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	if b == nil {
		return 0, ErrClosed
	}
	parties := atomic.LoadUint32(&b.parties)
	if parties == 0 {
		return 0, fmt.Errorf("%w: barrier has no parties (Init it)", ErrInvalid)
	}
	gen := atomic.LoadUint32(&b.gen)
	if atomic.LoadUint32(&b.broken) == gen+1 {
		return 0, ErrBrokenBarrier
	}
	b.arrive(gen)
	idx := atomic.AddUint32(&b.arrived, 1) - 1
	if idx+1 == parties { // the last one opens the gate for this generation
		atomic.StoreUint32(&b.arrived, 0)
		atomic.AddUint32(&b.gen, 1)
		futex.Wake(&b.gen, -1)
		return int(idx), nil
	}
	done := func() bool { return atomic.LoadUint32(&b.gen) != gen || atomic.LoadUint32(&b.broken) == gen+1 }
	if futex.Spin(done) {
		return b.outcome(gen, idx)
	}
	for !done() {
		if err := futex.Park(ctx, &b.gen, gen, futex.CheckSlice); err != nil {
			b.breakGen(gen)
			return int(idx), fmt.Errorf("%w: %w", ErrBrokenBarrier, err)
		}
		if !done() && b.memberDied(gen) {
			b.breakGen(gen)
		}
	}
	return b.outcome(gen, idx)
}

func (b *Barrier) outcome(gen, idx uint32) (int, error) {
	if atomic.LoadUint32(&b.broken) == gen+1 {
		return int(idx), ErrBrokenBarrier
	}
	return int(idx), nil
}

// arrive records this process as a member that reached generation gen.
func (b *Barrier) arrive(gen uint32) {
	mine := uint64(selfID) << 32
	for i := range b.members {
		w := atomic.LoadUint64(&b.members[i])
		switch {
		case w>>32 == uint64(selfID):
			atomic.StoreUint64(&b.members[i], mine|uint64(gen))
			return
		case w == 0 && atomic.CompareAndSwapUint64(&b.members[i], 0, mine|uint64(gen)):
			return
		}
	}
	// more than trackedMembers processes: this one is not watched
}

// memberDied reports a member process that is dead and has not arrived in generation gen.
func (b *Barrier) memberDied(gen uint32) bool {
	for i := range b.members {
		w := atomic.LoadUint64(&b.members[i])
		if w == 0 {
			return false
		}
		if id := uint32(w >> 32); uint32(w) != gen && id != selfID && !alive(id) {
			return true
		}
	}
	return false
}

// breakGen marks generation gen broken, if it is still current, and wakes its sleepers.
func (b *Barrier) breakGen(gen uint32) {
	if atomic.LoadUint32(&b.gen) == gen {
		atomic.StoreUint32(&b.broken, gen+1)
		futex.Wake(&b.gen, -1)
	}
}

// Abort breaks the barrier: current and future waiters get ErrBrokenBarrier until Reset.
func (b *Barrier) Abort() error {
	if b == nil {
		return ErrClosed
	}
	b.breakGen(atomic.LoadUint32(&b.gen))
	return nil
}

// Reset returns the barrier to its empty state: current waiters get ErrBrokenBarrier, and the
// next Wait starts a fresh generation.
func (b *Barrier) Reset() error {
	if b == nil {
		return ErrClosed
	}
	gen := atomic.LoadUint32(&b.gen)
	atomic.StoreUint32(&b.broken, gen+1)
	atomic.StoreUint32(&b.arrived, 0)
	atomic.AddUint32(&b.gen, 1)
	futex.Wake(&b.gen, -1)
	return nil
}
