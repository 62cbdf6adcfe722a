package ring

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/pidinfo"
)

// stuckFor is how long a claim whose owner never wrote its ID (it died between its
// compare-and-swap and the next store, or is stopped there) must stay exactly as it is before a
// waiter treats it as dead.
const stuckFor = 2 * time.Second

// stuck follows one waiter's view of the claim it waits behind.
type stuck struct {
	pos, seq uint64
	since    time.Time
}

// dead decides whether the process behind the claim at pos, whose slot holds seq, is gone. A
// claim is looked at only once it has stayed exactly as it is for a check slice (a busy queue
// wakes its waiters far more often than that, and reading a process's state costs a few
// microseconds); then it is dead if the slot names an owner that is dead, or names none and
// has not moved for stuckFor.
func (c *stuck) dead(pos, seq uint64, owner uint32) bool {
	if c.since.IsZero() || c.pos != pos || c.seq != seq {
		c.pos, c.seq, c.since = pos, seq, time.Now()
		return false
	}
	waited := time.Since(c.since)
	if owner != 0 {
		return waited >= futex.CheckSlice && !pidinfo.ID(owner).Alive()
	}
	return waited >= stuckFor
}

// never is the dead-peer check of a queue's spin: its sleep loop does that check.
func never() bool { return false }

// Put copies msg into the queue, waiting while it is full. It fails with ErrTooLarge for a
// message longer than SlotSize (nothing is sent), ErrClosed once the queue is closed, and
// ErrPeerGone when every process that ever took from the queue has died and it stays full.
func (q *Queue) Put(ctx context.Context, msg []byte) error {
	if len(msg) > q.slotSize {
		return fmt.Errorf("%w: %d bytes, slots hold %d", ErrTooLarge, len(msg), q.slotSize)
	}
	join(&q.sh.producers, &q.putJoined)
	done, err := q.tryPut(msg)
	if done || err != nil {
		return err
	}
	sh := q.sh
	if spinWait(SpinThenSleep, &q.putBudget, func() bool { done, err = q.tryPut(msg); return done || err != nil },
		func() bool { return ctx.Err() != nil }, never) {
		return err
	}
	atomic.AddUint32(&sh.putSleepers, 1)
	defer atomic.AddUint32(&sh.putSleepers, ^uint32(0))
	var st stuck
	asleep := time.Now()
	for i := 0; ; i++ {
		v := atomic.LoadUint32(&sh.notFull)
		if done, err = q.tryPut(msg); done || err != nil {
			if i > 0 {
				q.putBudget.slept(time.Since(asleep))
			}
			return err
		}
		if err := futex.Park(ctx, &sh.notFull, v, futex.CheckSlice); err != nil {
			return err
		}
		if q.freeDeadConsumerSlot(&st) {
			continue
		}
		if allGone(&sh.consumers) && q.Len() == q.Cap() {
			return fmt.Errorf("%w: every consumer died", ErrPeerGone)
		}
	}
}

// TryPut puts msg if a slot is free now; ok reports whether it did.
func (q *Queue) TryPut(msg []byte) (ok bool, err error) {
	if len(msg) > q.slotSize {
		return false, fmt.Errorf("%w: %d bytes, slots hold %d", ErrTooLarge, len(msg), q.slotSize)
	}
	join(&q.sh.producers, &q.putJoined)
	return q.tryPut(msg)
}

// PutBatch puts every message in order, waiting as Put does; it returns how many it put.
func (q *Queue) PutBatch(ctx context.Context, msgs [][]byte) (int, error) {
	for i, m := range msgs {
		if err := q.Put(ctx, m); err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

func (q *Queue) tryPut(msg []byte) (bool, error) {
	sh := q.sh
	for {
		if atomic.LoadUint32(&sh.closed) != 0 {
			return false, ErrClosed
		}
		pos := atomic.LoadUint64(&sh.enq)
		seq, length, owner, area := q.slot(pos)
		s := atomic.LoadUint64(seq) &^ skipBit
		switch dif := int64(s - pos); {
		case dif < 0:
			return false, nil // full: the slot still holds last lap's message
		case dif > 0:
			continue // another producer claimed pos first
		}
		if !atomic.CompareAndSwapUint64(&sh.enq, pos, pos+1) {
			continue
		}
		// The slot is this producer's until it publishes.
		atomic.StoreUint32(owner, uint32(pidinfo.SelfID()))
		copy(area, msg)
		if atomic.LoadUint32(&sh.joinable) != 0 {
			atomic.AddUint32(&sh.unfinished, 1) // before publication, so Join cannot see 0 early
		}
		// len and owner side by side are one little-endian u64: the length, and owner 0
		// (finished), in one store.
		atomic.StoreUint64((*uint64)(unsafe.Pointer(length)), uint64(len(msg)))
		if !atomic.CompareAndSwapUint64(seq, pos, pos+1) {
			// A consumer took the claim over, believing this process dead: the message is lost.
			if atomic.LoadUint32(&sh.joinable) != 0 {
				atomic.AddUint32(&sh.unfinished, ^uint32(0))
			}
			return false, fmt.Errorf("%w: this producer's claim at %d was given up as dead", ErrCorrupt, pos)
		}
		if atomic.LoadUint32(&sh.getSleepers) != 0 {
			atomic.AddUint32(&sh.notEmpty, 1)
			futex.Wake(&sh.notEmpty, 1)
		}
		return true, nil
	}
}

// Get copies the next message into buf (reusing its storage), waiting while the queue is
// empty. Once the queue is closed and drained it returns ErrClosed; when it stays empty and
// every process that ever put into it has died, ErrPeerGone.
func (q *Queue) Get(ctx context.Context, buf []byte) ([]byte, error) {
	join(&q.sh.consumers, &q.getJoined)
	out, done, err := q.tryGet(buf)
	if done || err != nil {
		return out, err
	}
	sh := q.sh
	if spinWait(SpinThenSleep, &q.getBudget, func() bool { out, done, err = q.tryGet(buf); return done || err != nil },
		func() bool { return ctx.Err() != nil || atomic.LoadUint32(&sh.closed) != 0 }, never) {
		return out, err
	}
	atomic.AddUint32(&sh.getSleepers, 1)
	defer atomic.AddUint32(&sh.getSleepers, ^uint32(0))
	var st stuck
	asleep := time.Now()
	for i := 0; ; i++ {
		v := atomic.LoadUint32(&sh.notEmpty)
		if out, done, err = q.tryGet(buf); done || err != nil {
			if i > 0 {
				q.getBudget.slept(time.Since(asleep))
			}
			return out, err
		}
		if atomic.LoadUint32(&sh.closed) != 0 && atomic.LoadUint64(&sh.enq) == atomic.LoadUint64(&sh.deq) {
			return buf[:0], ErrClosed
		}
		if err := futex.Park(ctx, &sh.notEmpty, v, futex.CheckSlice); err != nil {
			return buf[:0], err
		}
		if q.skipDeadProducerSlot(&st) {
			continue
		}
		if allGone(&sh.producers) && atomic.LoadUint64(&sh.enq) == atomic.LoadUint64(&sh.deq) {
			return buf[:0], fmt.Errorf("%w: every producer died", ErrPeerGone)
		}
	}
}

// TryGet takes the next message if there is one now; ok reports whether it did.
func (q *Queue) TryGet(buf []byte) (msg []byte, ok bool, err error) {
	join(&q.sh.consumers, &q.getJoined)
	return q.tryGet(buf)
}

// GetBatch waits for one message as Get does, then takes up to max-1 more that are already
// there, appending copies to dst.
func (q *Queue) GetBatch(ctx context.Context, max int, dst [][]byte) ([][]byte, error) {
	m, err := q.Get(ctx, nil)
	if err != nil {
		return dst, err
	}
	dst = append(dst, m)
	for len(dst) < max {
		m, ok, err := q.tryGet(nil)
		if err != nil || !ok {
			return dst, err
		}
		dst = append(dst, m)
	}
	return dst, nil
}

func (q *Queue) tryGet(buf []byte) ([]byte, bool, error) {
	sh := q.sh
	for {
		pos := atomic.LoadUint64(&sh.deq)
		seq, length, owner, area := q.slot(pos)
		s := atomic.LoadUint64(seq)
		switch dif := int64(s&^skipBit - (pos + 1)); {
		case dif < 0:
			return buf[:0], false, nil // empty, or the producer has not published yet
		case dif > 0:
			continue // another consumer took pos first
		}
		if !atomic.CompareAndSwapUint64(&sh.deq, pos, pos+1) {
			continue
		}
		var out []byte
		var err error
		if s&skipBit == 0 {
			atomic.StoreUint32(owner, uint32(pidinfo.SelfID()))
			if n := atomic.LoadUint32(length); int(n) <= q.slotSize {
				out = append(buf[:0], area[:n]...)
			} else {
				err = fmt.Errorf("%w: message of %d bytes in a %d-byte slot", ErrCorrupt, n, q.slotSize)
			}
		}
		atomic.StoreUint32(owner, 0)
		q.free(seq, s, pos)
		if s&skipBit != 0 {
			continue // a dead producer's claim: nothing to deliver
		}
		return out, err == nil, err
	}
}

// free hands slot pos, which held s, to the producers of the next lap. The CAS fails only if a
// producer already freed it, having taken this consumer for dead: writing the old lap's value
// back would wedge the slot.
func (q *Queue) free(seq *uint64, s, pos uint64) {
	if !atomic.CompareAndSwapUint64(seq, s, pos+q.mask+1) {
		return
	}
	if atomic.LoadUint32(&q.sh.putSleepers) != 0 {
		atomic.AddUint32(&q.sh.notFull, 1)
		futex.Wake(&q.sh.notFull, 1)
	}
}

// skipDeadProducerSlot looks at the slot consumers wait on: claimed by a producer (enq is past
// it) but not published. If the producer is dead, the slot is marked skipped so consumers move
// on; the producer's CAS to publish fails if it was only slow.
func (q *Queue) skipDeadProducerSlot(st *stuck) bool {
	pos := atomic.LoadUint64(&q.sh.deq)
	if atomic.LoadUint64(&q.sh.enq) <= pos {
		return false
	}
	seq, _, owner, _ := q.slot(pos)
	if atomic.LoadUint64(seq) != pos || !st.dead(pos, pos, atomic.LoadUint32(owner)) {
		return false
	}
	if atomic.CompareAndSwapUint64(seq, pos, (pos+1)|skipBit) {
		atomic.AddUint32(&q.sh.notEmpty, 1)
		futex.Wake(&q.sh.notEmpty, -1)
		return true
	}
	return false
}

// freeDeadConsumerSlot looks at the slot producers wait on: last lap's message, taken by a
// consumer (deq is past it) but never freed. If that consumer is dead, the slot is freed.
func (q *Queue) freeDeadConsumerSlot(st *stuck) bool {
	pos := atomic.LoadUint64(&q.sh.enq)
	prev := pos - (q.mask + 1)
	if atomic.LoadUint64(&q.sh.deq) <= prev {
		return false // not taken yet: the queue is just full
	}
	seq, _, owner, _ := q.slot(pos)
	s := atomic.LoadUint64(seq)
	if s&^skipBit != prev+1 || !st.dead(pos, s, atomic.LoadUint32(owner)) {
		return false
	}
	if atomic.CompareAndSwapUint64(seq, s, pos) {
		atomic.StoreUint32(owner, 0)
		atomic.AddUint32(&q.sh.notFull, 1)
		futex.Wake(&q.sh.notFull, -1)
		return true
	}
	return false
}
