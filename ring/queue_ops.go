package ring

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/pidinfo"
	"github.com/shmkit/shmkit/internal/prefetch"
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
// message longer than SlotSize (nothing is sent), ErrClosed once the queue is shut down (or
// this process closed it), and
// ErrPeerGone when the queue stays full and no other process is left to take from it: every
// other process that had it attached is gone, and at least one died without detaching.
func (q *Queue) Put(msg []byte) error { return q.PutContext(context.Background(), msg) }

// PutContext is Put that gives up with ctx's error when ctx ends.
func (q *Queue) PutContext(ctx context.Context, msg []byte) error {
	if q.Closed() {
		return ErrClosed
	}
	if len(msg) > q.slotSize {
		return fmt.Errorf("%w: %d bytes, slots hold %d", ErrTooLarge, len(msg), q.slotSize)
	}
	return q.put(ctx, msg, len(msg), nil)
}

// put waits for a slot and fills it with msg, or, if fill is not nil, with fill's n bytes.
func (q *Queue) put(ctx context.Context, msg []byte, n int, fill func([]byte) error) error {
	done, err := q.tryPut(msg, n, fill)
	if done || err != nil {
		return err
	}
	sh := q.sh
	q.checkCrowd()
	if spinWait(SpinThenSleep, &q.putBudget, func() bool { done, err = q.tryPut(msg, n, fill); return done || err != nil },
		func() bool { return ctx.Err() != nil }, never) {
		return err
	}
	var st stuck
	asleep := time.Now()
	for i := 0; ; i++ {
		atomic.StoreUint32(&sh.putSleeping, 1) // before the last look: see queueShared
		v := atomic.LoadUint32(&sh.notFull)
		if done, err = q.tryPut(msg, n, fill); done || err != nil {
			if i > 0 {
				q.putBudget.slept(time.Since(asleep))
			}
			q.passOn(&sh.putSleeping, &sh.notFull, q.Len() < q.Cap())
			return err
		}
		if err := futex.Park(ctx, &sh.notFull, v, futex.CheckSlice); err != nil {
			q.passOn(&sh.putSleeping, &sh.notFull, q.Len() < q.Cap())
			return err
		}
		if q.freeDeadConsumerSlot(&st) {
			continue
		}
		if q.Len() == q.Cap() && q.members.Orphaned(self) {
			return fmt.Errorf("%w: the queue is full and every other process that had it is gone, one at least by dying", ErrPeerGone)
		}
	}
}

// passOn hands a sleeper's wake to the next sleeper when there is something for it (room for
// a putter, a message for a getter): the wake that woke this one cleared the flag, and this
// one, having set it again, is the only one that knows others may still sleep.
func (q *Queue) passOn(flag, word *uint32, worth bool) {
	if worth {
		wake(flag, word, 1)
	}
}

// wake wakes up to n sleepers on word if flag says one may sleep, swapping the flag to 0: a
// woken one sets it again before it looks (see queueShared), and passes the wake on.
func wake(flag, word *uint32, n int) {
	if atomic.LoadUint32(flag) != 0 && atomic.SwapUint32(flag, 0) != 0 {
		atomic.AddUint32(word, 1)
		futex.Wake(word, n)
	}
}

// TryPut puts msg if a slot is free now; ok reports whether it did.
func (q *Queue) TryPut(msg []byte) (ok bool, err error) {
	if q.Closed() {
		return false, ErrClosed
	}
	if len(msg) > q.slotSize {
		return false, fmt.Errorf("%w: %d bytes, slots hold %d", ErrTooLarge, len(msg), q.slotSize)
	}
	return q.tryPut(msg, len(msg), nil)
}

// PutBatch puts every message in order, waiting as Put does; it returns how many it put.
func (q *Queue) PutBatch(msgs [][]byte) (int, error) {
	return q.PutBatchContext(context.Background(), msgs)
}

// PutBatchContext is PutBatch that gives up with ctx's error when ctx ends. The free slots at
// the head of the queue are claimed with one compare-and-swap for as many messages as fit, so
// a batch costs the producers' shared line once, not once a message.
func (q *Queue) PutBatchContext(ctx context.Context, msgs [][]byte) (int, error) {
	if q.Closed() {
		return 0, ErrClosed
	}
	for i, m := range msgs {
		if len(m) > q.slotSize {
			n, err := q.putBatch(ctx, msgs[:i]) // the ones before it go in; then ErrTooLarge
			if err == nil {
				err = fmt.Errorf("%w: message %d has %d bytes, slots hold %d", ErrTooLarge, i, len(m), q.slotSize)
			}
			return n, err
		}
	}
	return q.putBatch(ctx, msgs)
}

// putBatch puts msgs, each at most SlotSize bytes: as many as there are free slots at once,
// waiting as Put does whenever there is none.
func (q *Queue) putBatch(ctx context.Context, msgs [][]byte) (int, error) {
	done := 0
	for done < len(msgs) {
		n, err := q.tryPutBatch(msgs[done:])
		done += n
		if err != nil {
			return done, err
		}
		if n == 0 { // full: wait for room as Put does, putting one
			if err := q.put(ctx, msgs[done], len(msgs[done]), nil); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}

// tryPutBatch claims as many free slots as there are messages, up to those free now, with one
// compare-and-swap on enq, fills and publishes them in order, and returns how many it put.
func (q *Queue) tryPutBatch(msgs [][]byte) (int, error) {
	pos, k, err := q.claimPut(uint64(len(msgs)))
	if err != nil || k == 0 {
		return 0, err
	}
	if atomic.LoadUint32(&q.sh.joinable) != 0 {
		atomic.AddUint32(&q.sh.unfinished, uint32(k)) // before publication: see tryPut
	}
	put := 0
	for i := range k {
		_, _, _, area := q.slot(pos + i)
		copy(area, msgs[i])
		if e := q.publish(pos+i, len(msgs[i])); e == nil {
			put++
		} else if err == nil {
			err = e
		}
	}
	wake(&q.sh.getSleeping, &q.sh.notEmpty, int(k)) // a getter for each message, at most
	return put, err
}

// claimPut claims up to want free slots (at least one) at enq with one compare-and-swap, and
// returns the first position and how many it claimed: 0 when the queue is full. The claimed
// slots carry this process as their owner until each is published.
func (q *Queue) claimPut(want uint64) (pos, k uint64, err error) {
	sh := q.sh
retry:
	for {
		if atomic.LoadUint32(&sh.shutdown) != 0 {
			return 0, 0, ErrClosed
		}
		pos = atomic.LoadUint64(&sh.enq)
		room := want
		if q.limited {
			// A capacity below the slot count: full once capacity messages are claimed and not
			// yet taken. deq never passes enq, so a deq past this pos means pos is stale.
			used := int64(pos - atomic.LoadUint64(&sh.deq))
			if used < 0 {
				continue
			}
			room = min(room, q.capacity-min(uint64(used), q.capacity))
		}
		for k = 0; k < room; k++ {
			seq, _, _, _ := q.slot(pos + k)
			s := atomic.LoadUint64(seq) &^ skipBit
			if s == pos+k {
				continue // free for this lap
			}
			if k == 0 && s > pos {
				// Another producer claimed pos first, so enq has moved on; if it has not, the
				// slot cannot be valid, and looping would spin for ever.
				if atomic.LoadUint64(&sh.enq) == pos {
					return 0, 0, fmt.Errorf("%w: slot %d has sequence %d ahead of the queue's %d", ErrCorrupt, pos&q.mask, s, pos)
				}
				continue retry
			}
			break // full from here: the slot still holds last lap's message
		}
		if k == 0 || atomic.CompareAndSwapUint64(&sh.enq, pos, pos+k) {
			break
		}
	}
	if k > 1 {
		q.fetchSlots(pos, k)
	}
	// The owner is a hint for repair (a claim that names nobody is judged by its age), and
	// publish's compare-and-swap orders it: an ordered store, not a full fence, is enough.
	for i := range k {
		_, _, owner, _ := q.slot(pos + i)
		fence.Store32(owner, uint32(self))
	}
	return pos, k, nil
}

// fetchSlots asks for the lines of the k slots from pos on, ready to be written (see package
// prefetch). A batch's slots were last written by other processes, so each of its owner,
// length and sequence stores would otherwise wait for its line in turn; asked for at once,
// the lines come together.
func (q *Queue) fetchSlots(pos, k uint64) {
	for k > 0 {
		first := pos & q.mask
		n := min(k, q.mask+1-first) // the slots before the end of the ring
		b := q.slots[first*q.stride : (first+n)*q.stride]
		for off := 0; off < len(b); off += prefetch.Chunk {
			prefetch.Write(&b[off])
		}
		pos, k = pos+n, k-n
	}
}

// publish makes the message of n bytes in the claimed slot pos visible to consumers. It fails
// if a consumer took the claim over, believing this process dead: the message is then lost.
func (q *Queue) publish(pos uint64, n int) error {
	seq, length, _, _ := q.slot(pos)
	// len and owner side by side are one little-endian u64: the length, and owner 0
	// (finished), in one store, which the compare-and-swap after it orders (x86 keeps stores
	// in order, and the swap is a full fence): a consumer that sees the sequence sees it.
	fence.Store64((*uint64)(unsafe.Pointer(length)), uint64(n))
	if atomic.CompareAndSwapUint64(seq, pos, pos+1) {
		return nil
	}
	if atomic.LoadUint32(&q.sh.joinable) != 0 {
		atomic.AddUint32(&q.sh.unfinished, ^uint32(0))
	}
	return fmt.Errorf("%w: this producer's claim at %d was given up as dead", ErrCorrupt, pos)
}

// tryPut claims a free slot, if there is one now, and fills it: a copy of msg, or, if fill is
// not nil, n bytes that fill writes in place (a value encoded straight into the slot). A fill
// that fails gives the claim up as skipped, as a dead producer's is, and nothing is delivered.
func (q *Queue) tryPut(msg []byte, n int, fill func([]byte) error) (bool, error) {
	pos, k, err := q.claimPut(1)
	if err != nil || k == 0 {
		return false, err
	}
	sh := q.sh
	seq, _, owner, area := q.slot(pos)
	if fill == nil {
		copy(area, msg)
	} else if err := fill(area[:n]); err != nil {
		atomic.StoreUint32(owner, 0)
		if atomic.CompareAndSwapUint64(seq, pos, (pos+1)|skipBit) {
			wake(&sh.getSleeping, &sh.notEmpty, 1) // a sleeping getter moves past it
		}
		return false, err
	}
	if atomic.LoadUint32(&sh.joinable) != 0 {
		atomic.AddUint32(&sh.unfinished, 1) // before publication, so Join cannot see 0 early
	}
	if err := q.publish(pos, n); err != nil {
		return false, err
	}
	wake(&sh.getSleeping, &sh.notEmpty, 1)
	return true, nil
}

// Get copies the next message into buf (reusing its storage), waiting while the queue is
// empty. Once the queue is shut down and drained it returns io.EOF (ErrClosed if this process
// closed it). When the queue stays empty
// and no other process is left to put into it (every other process that had it attached is
// gone, and at least one died without detaching), it returns ErrPeerGone; while any other
// process has it attached, or when they all detached, it waits (for its context).
func (q *Queue) Get(buf []byte) ([]byte, error) { return q.GetContext(context.Background(), buf) }

// GetContext is Get that gives up with ctx's error when ctx ends.
func (q *Queue) GetContext(ctx context.Context, buf []byte) ([]byte, error) {
	if q.Closed() {
		return buf[:0], ErrClosed
	}
	return q.get(ctx, buf, nil)
}

// get waits for a message and copies it into buf, or, if use is not nil, hands it to use in
// place (a value decoded straight from the slot) and returns buf[:0].
func (q *Queue) get(ctx context.Context, buf []byte, use func([]byte) error) ([]byte, error) {
	out, done, err := q.tryGet(buf, use)
	if done || err != nil {
		return out, err
	}
	sh := q.sh
	q.checkCrowd()
	if spinWait(SpinThenSleep, &q.getBudget, func() bool { out, done, err = q.tryGet(buf, use); return done || err != nil },
		func() bool { return ctx.Err() != nil || atomic.LoadUint32(&sh.shutdown) != 0 }, never) {
		return out, err
	}
	var st stuck
	asleep := time.Now()
	for i := 0; ; i++ {
		atomic.StoreUint32(&sh.getSleeping, 1) // before the last look: see queueShared
		v := atomic.LoadUint32(&sh.notEmpty)
		if out, done, err = q.tryGet(buf, use); done || err != nil {
			if i > 0 {
				q.getBudget.slept(time.Since(asleep))
			}
			q.passOn(&sh.getSleeping, &sh.notEmpty, q.Len() > 0)
			return out, err
		}
		if q.drained() {
			return buf[:0], io.EOF
		}
		if err := futex.Park(ctx, &sh.notEmpty, v, futex.CheckSlice); err != nil {
			q.passOn(&sh.getSleeping, &sh.notEmpty, q.Len() > 0)
			return buf[:0], err
		}
		if q.skipDeadProducerSlot(&st) {
			continue
		}
		if q.Len() == 0 && q.members.Orphaned(self) {
			return buf[:0], fmt.Errorf("%w: the queue is empty and every other process that had it is gone, one at least by dying", ErrPeerGone)
		}
	}
}

// drained reports a shut-down queue with nothing left in it.
func (q *Queue) drained() bool {
	s := atomic.LoadUint32(&q.sh.shutdown)
	return s == shutdownNow || s != 0 && atomic.LoadUint64(&q.sh.enq) == atomic.LoadUint64(&q.sh.deq)
}

// TryGet takes the next message if there is one now; ok reports whether it did. On a shut-down
// queue with nothing left it returns io.EOF, as Get does.
func (q *Queue) TryGet(buf []byte) (msg []byte, ok bool, err error) {
	if q.Closed() {
		return buf[:0], false, ErrClosed
	}
	msg, ok, err = q.tryGet(buf, nil)
	if !ok && err == nil && q.drained() {
		err = io.EOF
	}
	return msg, ok, err
}

// Ready reports whether a message is there to be taken now, without taking it (Python's
// not q.empty()). It is a snapshot: another consumer may take the message first.
func (q *Queue) Ready() bool {
	if q.Closed() || atomic.LoadUint32(&q.sh.shutdown) == shutdownNow {
		return false
	}
	enq := atomic.LoadUint64(&q.sh.enq)
	for pos := atomic.LoadUint64(&q.sh.deq); pos < enq; pos++ {
		seq, _, _, _ := q.slot(pos)
		switch atomic.LoadUint64(seq) {
		case pos + 1:
			return true
		case (pos + 1) | skipBit:
			continue // a dead producer's claim, which Get skips
		}
		return false
	}
	return false
}

// Poll waits until a message is there to be taken, without taking it: nil once one is, io.EOF
// once the queue is shut down and drained, ErrPeerGone as Get, ErrClosed if this process
// closed it, or ctx's error. Like Ready, what it sees is a snapshot when other processes get
// from the queue too; to wait on several ends at once, see Wait.
func (q *Queue) Poll(ctx context.Context) error {
	for {
		if q.Closed() {
			return ErrClosed
		}
		if _, err := Wait(ctx, q); err != nil {
			return err
		}
		switch {
		case q.Closed():
			return ErrClosed
		case q.Ready():
			return nil
		case q.drained():
			return io.EOF
		case q.Len() == 0 && q.members.Orphaned(self):
			return fmt.Errorf("%w: the queue is empty and every other process that had it is gone, one at least by dying", ErrPeerGone)
		}
		// another consumer took what Wait saw: wait again
	}
}

// GetBatch waits for one message as Get does, then takes up to max-1 more that are already
// there, and appends copies to dst. The copies reuse the storage of dst's elements past its
// length, so a loop that passes the last batch back as dst[:0] allocates nothing once warm.
func (q *Queue) GetBatch(max int, dst [][]byte) ([][]byte, error) {
	return q.GetBatchContext(context.Background(), max, dst)
}

// GetBatchContext is GetBatch that gives up with ctx's error when ctx ends. The messages
// after the first are claimed with one compare-and-swap for as many as are there (up to max-1),
// so a batch costs the consumers' shared line once, not once a message.
func (q *Queue) GetBatchContext(ctx context.Context, max int, dst [][]byte) ([][]byte, error) {
	if q.Closed() {
		return dst, ErrClosed
	}
	m, err := q.get(ctx, spare(dst), nil)
	if err != nil {
		return dst, err
	}
	return q.tryGetBatch(max-1, append(dst, m))
}

// spare returns storage for the next element of dst: what its backing array holds past its
// length, emptied, or nil.
func spare(dst [][]byte) []byte {
	if len(dst) < cap(dst) {
		return dst[: len(dst)+1 : cap(dst)][len(dst)][:0]
	}
	return nil
}

// tryGetBatch claims up to max messages that are there now with one compare-and-swap on deq,
// and appends copies of them to dst (a dead producer's skipped claims among them are freed and
// not delivered).
func (q *Queue) tryGetBatch(max int, dst [][]byte) ([][]byte, error) {
	sh := q.sh
	for max > 0 {
		if atomic.LoadUint32(&sh.shutdown) == shutdownNow {
			return dst, nil // what is left was dropped; the next Get says io.EOF
		}
		pos := atomic.LoadUint64(&sh.deq)
		k := uint64(0)
		for ; k < uint64(max); k++ {
			seq, _, _, _ := q.slot(pos + k)
			if atomic.LoadUint64(seq)&^skipBit != pos+k+1 {
				break
			}
		}
		if k == 0 {
			return dst, nil
		}
		if !atomic.CompareAndSwapUint64(&sh.deq, pos, pos+k) {
			continue
		}
		if k > 1 {
			q.fetchSlots(pos, k)
		}
		for i := range k { // hints, ordered by the frees' swaps: see claimPut
			_, _, owner, _ := q.slot(pos + i)
			fence.Store32(owner, uint32(self))
		}
		var err error
		for i := range k {
			seq, length, owner, area := q.slot(pos + i)
			s := atomic.LoadUint64(seq)
			if s&skipBit == 0 && err == nil {
				if n := atomic.LoadUint32(length); int(n) > q.slotSize {
					err = fmt.Errorf("%w: message of %d bytes in a %d-byte slot", ErrCorrupt, n, q.slotSize)
				} else {
					dst = append(dst, append(spare(dst), area[:n]...))
				}
			}
			fence.Store32(owner, 0)
			q.free(seq, s, pos+i)
		}
		if err != nil {
			return dst, err
		}
		max -= int(k)
	}
	return dst, nil
}

// tryGet takes the next message, if there is one now: a copy into buf, or, if use is not nil,
// the message in place handed to use, which must be done with it when it returns.
func (q *Queue) tryGet(buf []byte, use func([]byte) error) ([]byte, bool, error) {
	sh := q.sh
	if atomic.LoadUint32(&sh.shutdown) == shutdownNow {
		return buf[:0], false, io.EOF // what is left was dropped
	}
	for {
		pos := atomic.LoadUint64(&sh.deq)
		seq, length, owner, area := q.slot(pos)
		s := atomic.LoadUint64(seq)
		switch dif := int64(s&^skipBit - (pos + 1)); {
		case dif < 0:
			return buf[:0], false, nil // empty, or the producer has not published yet
		case dif > 0:
			// Another consumer took pos first, so deq has moved on; if it has not, the slot
			// cannot be valid, and looping would spin for ever.
			if atomic.LoadUint64(&sh.deq) == pos {
				return buf[:0], false, fmt.Errorf("%w: slot %d has sequence %d ahead of the queue's %d", ErrCorrupt, pos&q.mask, s&^skipBit, pos)
			}
			continue
		}
		if !atomic.CompareAndSwapUint64(&sh.deq, pos, pos+1) {
			continue
		}
		var out []byte
		var err error
		if s&skipBit == 0 {
			fence.Store32(owner, uint32(self)) // a hint, ordered: see claimPut
			if n := atomic.LoadUint32(length); int(n) > q.slotSize {
				err = fmt.Errorf("%w: message of %d bytes in a %d-byte slot", ErrCorrupt, n, q.slotSize)
			} else if use != nil {
				out, err = buf[:0], use(area[:n])
			} else {
				out = append(buf[:0], area[:n]...)
			}
		}
		fence.Store32(owner, 0)
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
	if atomic.CompareAndSwapUint64(seq, s, pos+q.mask+1) {
		wake(&q.sh.putSleeping, &q.sh.notFull, 1)
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
