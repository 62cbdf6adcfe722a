package sem

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/member"
	"github.com/shmkit/shmkit/shm"
)

// MaxParties is the most parties a Barrier takes.
const MaxParties = 1 << 16

// BarrierMembers is how many processes a Barrier tracks; the process that would be one more
// gets ErrTooMany when it attaches or first waits.
const BarrierMembers = 64

// A Barrier makes a fixed number of parties wait for each other: Python's Barrier. Init sets
// the number of parties (OpenBarrier does it); the zero value has none and every Wait fails.
//
//	0       4       8       12      16      20      24      32      40                    552
//	+-------+-------+-------+-------+-------+-------+-------+-------+---------------------+
//	|parties|arrived| gen   |broken |acting |  -    |action |timeout| members[64]         |
//	+-------+-------+-------+-------+-------+-------+-------+-------+---------------------+
//
// gen is the generation, the word sleepers park on: the last party to arrive bumps it. broken
// holds gen+1 of a broken generation (0: none), so the sleepers of that generation, and every
// later arrival until Reset, get ErrBrokenBarrier. action is the hash of the registered
// BarrierAction's name (0: none) and timeout the default wait in nanoseconds (0: none); acting
// holds the ID of the process running the action, so that its death breaks the generation
// (it has already counted its arrival, and would otherwise be waited for for ever).
//
// members lists the processes that have the barrier, one u64 each: the process's ID in the
// high half (bit 31 of it set while a launched child has not yet attached: see member), and in
// the low half gen+1 of the last generation its arrival was counted in (0: none yet). A
// process becomes a member when it opens the barrier by name, receives it in a procs entry's
// argument (reserved by the parent before the child runs), or first waits on it; it stops
// being one when it closes the segment the barrier lives in (a procs child does at exit). A
// sleeper checks every 50 ms that no member died without being counted in this generation:
// such a member would never arrive, so the barrier breaks. A party counts its arrival first
// and records it after, so one killed between the two is seen as not arrived: the barrier
// breaks rather than waits for ever. A member that left (closed, or a procs child that
// returned) breaks nothing, so a party may finish, exit, and be replaced by a new process.
// The goroutines of one process share its membership: death is noticed per process.
type Barrier struct {
	parties uint32
	arrived uint32
	gen     uint32
	broken  uint32
	acting  uint32
	_       uint32
	action  uint64
	timeout int64
	members [BarrierMembers]uint64 // process ID << 32 | gen+1 of its last counted arrival
}

const expectedBit = 1 << 31 // in a member's ID: reserved for a child not yet attached

// arriveHook, set only by tests (export_test.go), runs between counting and recording.
var arriveHook func()

// Init sets the number of parties (1 to MaxParties). Call it once, before any process waits.
func (b *Barrier) Init(parties int) error {
	if parties < 1 || parties > MaxParties {
		return fmt.Errorf("%w: %d parties (want 1 to %d)", ErrInvalid, parties, MaxParties)
	}
	atomic.StoreUint32(&b.parties, uint32(parties))
	return nil
}

// SetAction makes a the barrier's action (nil: none), for every process from the next
// generation on. Constructors take WithAction instead.
func (b *Barrier) SetAction(a *BarrierAction) {
	var key uint64
	if a != nil {
		key = a.key
	}
	atomic.StoreUint64(&b.action, key)
}

// SetTimeout sets the default wait (0: none; see BarrierTimeout).
func (b *Barrier) SetTimeout(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: a timeout of %v", ErrInvalid, d)
	}
	atomic.StoreInt64(&b.timeout, int64(d))
	return nil
}

// Timeout returns the default wait (0: none).
func (b *Barrier) Timeout() time.Duration { return time.Duration(atomic.LoadInt64(&b.timeout)) }

// Parties returns the number of parties.
func (b *Barrier) Parties() int {
	return int(atomic.LoadUint32(&b.parties))
}

// Waiting returns how many parties wait in the current generation.
func (b *Barrier) Waiting() int {
	return int(atomic.LoadUint32(&b.arrived))
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() bool {
	return atomic.LoadUint32(&b.broken) == atomic.LoadUint32(&b.gen)+1
}

// Wait blocks until every party has called Wait, then returns this party's arrival index, 0
// to parties-1 (distinct in each generation). If a party dies (see Barrier), or Abort or Reset
// is called, or a waiter's context ends (WaitContext), the barrier breaks and every waiter gets
// ErrBrokenBarrier. With an action, the last party to arrive runs it before releasing the
// others; if it fails or panics, the barrier breaks: that party gets the action's error joined
// to ErrBrokenBarrier, the others ErrBrokenBarrier. With a default timeout, a wait that runs
// out breaks the barrier, as a context that ends does.
func (b *Barrier) Wait() (int, error) { return b.WaitContext(context.Background()) }

// WaitContext is Wait that gives up when ctx ends: the barrier breaks, and this waiter gets
// ErrBrokenBarrier joined to ctx's error. A ctx with no deadline gets the barrier's default
// timeout, if it has one.
func (b *Barrier) WaitContext(ctx context.Context) (int, error) {
	if d := b.Timeout(); d > 0 {
		if _, has := ctx.Deadline(); !has {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
	}
	parties := atomic.LoadUint32(&b.parties)
	if parties == 0 {
		return 0, fmt.Errorf("%w: barrier has no parties (Init it)", ErrInvalid)
	}
	slot, err := b.member()
	if err != nil {
		return 0, err
	}
	gen := atomic.LoadUint32(&b.gen)
	if atomic.LoadUint32(&b.broken) == gen+1 {
		return 0, ErrBrokenBarrier
	}
	// Count first, record after: a party killed in between is seen as not arrived (see Barrier).
	idx := atomic.AddUint32(&b.arrived, 1) - 1
	if arriveHook != nil {
		arriveHook() // tests stop a party here, to kill it between the two steps
	}
	atomic.StoreUint64(&b.members[slot], uint64(selfID)<<32|uint64(gen+1))
	if idx+1 == parties { // the last one opens the gate for this generation
		if err := b.act(); err != nil {
			b.breakGen(gen)
			return int(idx), fmt.Errorf("%w: %w", ErrBrokenBarrier, err)
		}
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
		if !done() && (b.memberDied(gen) || b.actorDied()) {
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

// member returns this process's entry in members, taking one (and arranging to give it back
// when the segment is closed) on the first Wait of a process that did not attach the barrier.
func (b *Barrier) member() (int, error) {
	for i := range b.members {
		w := atomic.LoadUint64(&b.members[i])
		switch uint32(w >> 32) {
		case selfID:
			return i, nil
		case selfID | expectedBit:
			if atomic.CompareAndSwapUint64(&b.members[i], w, uint64(selfID)<<32) {
				return i, nil
			}
		}
	}
	i, err := b.join()
	if err != nil {
		return 0, err
	}
	if seg, _, lerr := shm.Locate(unsafe.Pointer(b)); lerr == nil {
		seg.OnClose(func() { b.leave(i) })
	}
	return i, nil
}

// join takes an entry for this process: one reserved for it, else a free one, else one whose
// process is dead.
func (b *Barrier) join() (int, error) {
	mine := uint64(selfID) << 32
	for i := range b.members {
		if w := atomic.LoadUint64(&b.members[i]); uint32(w>>32) == selfID|expectedBit &&
			atomic.CompareAndSwapUint64(&b.members[i], w, mine) {
			return i, nil
		}
	}
	return b.take(mine)
}

func (b *Barrier) take(w uint64) (int, error) {
	for i := range b.members {
		if atomic.LoadUint64(&b.members[i]) == 0 && atomic.CompareAndSwapUint64(&b.members[i], 0, w) {
			return i, nil
		}
	}
	for i := range b.members {
		if old := atomic.LoadUint64(&b.members[i]); !alive(uint32(old>>32)&^expectedBit) &&
			atomic.CompareAndSwapUint64(&b.members[i], old, w) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: a barrier tracks %d processes", ErrTooMany, BarrierMembers)
}

// leave gives entry i back, if it is still this process's.
func (b *Barrier) leave(i int) {
	for {
		w := atomic.LoadUint64(&b.members[i])
		if uint32(w>>32) != selfID || atomic.CompareAndSwapUint64(&b.members[i], w, 0) {
			return
		}
	}
}

// Expect implements shm.Expecter: process pid, just started, is about to attach the barrier.
func (b *Barrier) Expect(pid int) error {
	id, err := member.IDOf(pid)
	if err != nil {
		return err
	}
	_, err = b.take(uint64(uint32(id)|expectedBit) << 32)
	return err
}

// attachMember makes this process a member when it receives or opens the barrier in seg.
func (b *Barrier) attachMember(seg *shm.Segment) error {
	i, err := b.join()
	if err != nil {
		return err
	}
	if !seg.OnClose(func() { b.leave(i) }) {
		b.leave(i)
		return ErrClosed
	}
	return nil
}

// act runs the barrier's action, if it has one, with this process recorded as acting.
func (b *Barrier) act() error {
	key := atomic.LoadUint64(&b.action)
	if key == 0 {
		return nil
	}
	v, ok := actions.Load(key)
	if !ok {
		return fmt.Errorf("the barrier's action (hash %#x) is not registered in this binary", key)
	}
	a := v.(*BarrierAction)
	atomic.StoreUint32(&b.acting, selfID)
	defer atomic.StoreUint32(&b.acting, 0)
	if err := a.run(); err != nil {
		return fmt.Errorf("barrier action %q: %w", a.name, err)
	}
	return nil
}

// actorDied reports that the process running the action died in it.
func (b *Barrier) actorDied() bool {
	id := atomic.LoadUint32(&b.acting)
	return id != 0 && id != selfID && !alive(id)
}

// memberDied reports a member process that is dead and was not counted in generation gen.
func (b *Barrier) memberDied(gen uint32) bool {
	for i := range b.members {
		w := atomic.LoadUint64(&b.members[i])
		id := uint32(w>>32) &^ expectedBit
		if w == 0 || id == selfID || uint32(w) == gen+1 {
			continue
		}
		if !alive(id) {
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
	b.breakGen(atomic.LoadUint32(&b.gen))
	return nil
}

// Reset returns the barrier to its empty state: current waiters get ErrBrokenBarrier, and the
// next Wait starts a fresh generation.
func (b *Barrier) Reset() error {
	gen := atomic.LoadUint32(&b.gen)
	atomic.StoreUint32(&b.broken, gen+1)
	atomic.StoreUint32(&b.arrived, 0)
	atomic.AddUint32(&b.gen, 1)
	futex.Wake(&b.gen, -1)
	return nil
}
