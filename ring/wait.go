package ring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/internal/futex"
)

// A Waitable is a receiving end that Wait watches: a *Reader, *Conn, *ReaderOf, *Queue,
// *JoinableQueue or *QueueOf, or a channel given through Done (a process's Done, a context's
// Done). The set is closed: the methods are the package's own.
type Waitable interface {
	// settled reports whether a receive would not block now: there is something to take, the
	// stream has ended, the end is closed, or (deep, which costs system calls) its peer is
	// gone. st is this Wait's state for the end, nil on the first look.
	settled(st *stuck, deep bool) bool
	// arm announces a sleeper and returns the word to sleep on and the value to sleep while
	// it holds (nil: nothing to sleep on), and how long a sleep may last (0: no limit). The
	// caller looks again (settled) after arming and before sleeping.
	arm() (word *uint32, val uint32, slice time.Duration)
	// disarm withdraws arm's announcement.
	disarm()
	isNil() bool
}

var (
	_ Waitable = (*Reader)(nil)
	_ Waitable = (*Conn)(nil)
	_ Waitable = (*ReaderOf[int])(nil)
	_ Waitable = (*Queue)(nil)
	_ Waitable = (*JoinableQueue)(nil)
	_ Waitable = (*QueueOf[int])(nil)
)

// Wait waits until at least one of ends is ready, and returns every one that is, in the order
// given: Python's multiprocessing.connection.wait, with the timeout as ctx's deadline. An end
// is ready when a receive on it would not block: a record or message is there, or the stream
// has ended (the receive returns io.EOF), or the end is closed or its peer is gone (the receive
// returns that error). Wait itself fails only for bad input (no ends, a nil end: ErrInvalid) or
// with ctx's error. Like Reader.Poll, it takes nothing, but it releases a record a Reader's Next
// returned before. Compare what it returns with the ends, as in
//
//	ready, err := ring.Wait(ctx, results, jobs, ring.Done(child.Done()))
//	for _, end := range ready {
//		switch end {
//		case results: ...
//		case jobs: ...
//		case ring.Done(child.Done()): ...
//		}
//	}
//
// A Queue's readiness is a snapshot: another consumer may take the message first, and the Get
// that follows waits again. On Linux a Wait that must sleep makes one futex_waitv system call
// for all the ends (a goroutine per channel rings it), on Windows one WaitForMultipleObjects;
// on macOS, or past 127 ends (63 on Windows), it checks the ends every millisecond.
func Wait(ctx context.Context, ends ...Waitable) ([]Waitable, error) {
	if len(ends) == 0 {
		return nil, fmt.Errorf("%w: Wait needs at least one end", ErrInvalid)
	}
	for i, e := range ends {
		if e == nil || e.isNil() {
			return nil, fmt.Errorf("%w: end %d of Wait is nil", ErrInvalid, i)
		}
	}
	var ready []Waitable
	// A hand-off in flight lands within microseconds: no sleep yet.
	if futex.Spin(func() bool { ready = readyOf(ends, nil, false); return ready != nil || ctx.Err() != nil }) {
		if ready != nil {
			return ready, nil
		}
		return nil, ctx.Err()
	}
	return sleepWait(ctx, ends)
}

// readyOf returns the ends that are settled, nil if none is.
func readyOf(ends []Waitable, st []stuck, deep bool) []Waitable {
	var ready []Waitable
	for i, e := range ends {
		var s *stuck
		if st != nil {
			s = &st[i]
		}
		if e.settled(s, deep) {
			ready = append(ready, e)
		}
	}
	return ready
}

// sleepWait is Wait's sleep: arm every end, look once more, and sleep on all their words and
// a bell that channels ring, until something moves; every check slice it also looks for dead
// peers.
func sleepWait(ctx context.Context, ends []Waitable) ([]Waitable, error) {
	st := make([]stuck, len(ends))
	bell := new(uint32)
	ringBell := func() {
		atomic.AddUint32(bell, 1)
		futex.Wake(bell, -1)
	}
	unhook := func() bool { return false }
	if ctx.Done() != nil { // no goroutine for the context: it calls back when it ends
		unhook = context.AfterFunc(ctx, ringBell)
	}
	stop := make(chan struct{})
	var watchers sync.WaitGroup
	for _, e := range ends {
		if d, ok := e.(doneEnd); ok {
			watchers.Go(func() {
				select {
				case <-d.ch:
					ringBell()
				case <-stop:
				}
			})
		}
	}
	defer func() {
		unhook()
		close(stop)
		watchers.Wait()
		for _, e := range ends {
			e.disarm()
		}
	}()
	ctxDeadline, hasDeadline := ctx.Deadline()
	words := make([]*uint32, 0, len(ends)+1)
	vals := make([]uint32, 0, len(ends)+1)
	lastDeep := time.Now()
	for {
		words, vals = append(words[:0], bell), append(vals[:0], atomic.LoadUint32(bell))
		slice := futex.CheckSlice
		for _, e := range ends {
			w, v, s := e.arm()
			if w != nil {
				words, vals = append(words, w), append(vals, v)
			}
			if s > 0 {
				slice = min(slice, s)
			}
		}
		deep := time.Since(lastDeep) >= futex.CheckSlice
		if deep {
			lastDeep = time.Now()
		}
		if ready := readyOf(ends, st, deep); ready != nil {
			return ready, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(words) > futex.MaxWaitAny {
			words, vals, slice = words[:futex.MaxWaitAny], vals[:futex.MaxWaitAny], time.Millisecond
		}
		deadline := time.Now().Add(slice)
		if hasDeadline && ctxDeadline.Before(deadline) {
			deadline = ctxDeadline
		}
		err := futex.WaitAny(words, vals, deadline)
		if err != nil && !errors.Is(err, futex.ErrTimeout) {
			return nil, err
		}
		if hasDeadline && !time.Now().Before(ctxDeadline) {
			if ready := readyOf(ends, st, false); ready != nil {
				return ready, nil
			}
			return nil, context.DeadlineExceeded // ctx's own timer may not have fired yet
		}
	}
}

// Done makes a channel that is closed to signal (a Process's Done, a context's Done) an end
// Wait watches: ready once the channel is closed. A value sent on the channel also makes it
// ready, and Wait takes that value. Two Done of the same channel are equal, so a switch on
// what Wait returns can name it again.
func Done(ch <-chan struct{}) Waitable { return doneEnd{ch} }

type doneEnd struct{ ch <-chan struct{} }

func (d doneEnd) settled(*stuck, bool) bool {
	select {
	case <-d.ch:
		return true
	default:
		return false
	}
}

func (d doneEnd) arm() (*uint32, uint32, time.Duration) { return nil, 0, 0 }
func (d doneEnd) disarm()                               {}
func (d doneEnd) isNil() bool                           { return d.ch == nil }

func (r *Reader) settled(_ *stuck, deep bool) bool {
	if r.closed || r.p.Closed() {
		return true
	}
	if ok, err := r.look(); ok || err != nil {
		return true
	}
	sh := r.p.sh
	return atomic.LoadUint32(&sh.writerClosed) != 0 || deep && r.p.peerGone(&sh.writerID, &sh.writerClosed)
}

// arm: the writer wakes the header word at head once readerSleep is set (see Reader.waitData).
func (r *Reader) arm() (*uint32, uint32, time.Duration) {
	sh := r.p.sh
	atomic.StoreUint32(&sh.readerSleep, 1)
	var slice time.Duration
	if atomic.LoadUint32(&sh.writerLight) != 0 && fence.Heavy() != nil {
		slice = time.Millisecond // the writer's last store may not be visible yet: see waitData
	}
	return r.p.typeWord(r.head & r.p.mask), 0, slice
}

func (r *Reader) disarm() {
	if !r.closed && !r.p.Closed() {
		atomic.StoreUint32(&r.p.sh.readerSleep, 0)
	}
}

func (r *Reader) isNil() bool { return r == nil }

func (t *ReaderOf[T]) settled(st *stuck, deep bool) bool     { return t.r.settled(st, deep) }
func (t *ReaderOf[T]) arm() (*uint32, uint32, time.Duration) { return t.r.arm() }
func (t *ReaderOf[T]) disarm()                               { t.r.disarm() }
func (t *ReaderOf[T]) isNil() bool                           { return t == nil || t.r == nil }

func (q *Queue) settled(st *stuck, deep bool) bool {
	if q.Closed() || q.drained() || q.Ready() {
		return true
	}
	if !deep {
		return false
	}
	if q.Len() == 0 {
		return q.members.Orphaned(self) // Get returns ErrPeerGone
	}
	q.skipDeadProducerSlot(st) // a claim whose producer died: mark it skipped, as Get does
	return q.Ready()
}

// arm: a Put that finds getSleeping set wakes notEmpty. Disarming leaves the flag set: this
// Wait may have taken the wake meant for a Get asleep beside it, and the flag set makes the
// next Put wake that one (see queueShared's baton).
func (q *Queue) arm() (*uint32, uint32, time.Duration) {
	atomic.StoreUint32(&q.sh.getSleeping, 1)
	return &q.sh.notEmpty, atomic.LoadUint32(&q.sh.notEmpty), 0
}

func (q *Queue) disarm()             {}
func (j *JoinableQueue) isNil() bool { return j == nil || j.Queue == nil }
func (c *Conn) isNil() bool          { return c == nil || c.Reader == nil }
func (q *Queue) isNil() bool         { return q == nil }

func (t *QueueOf[T]) settled(st *stuck, deep bool) bool     { return t.q.settled(st, deep) }
func (t *QueueOf[T]) arm() (*uint32, uint32, time.Duration) { return t.q.arm() }
func (t *QueueOf[T]) disarm()                               {}
func (t *QueueOf[T]) isNil() bool                           { return t == nil || t.q == nil }
