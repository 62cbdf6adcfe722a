package ring

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/spin"
)

// A Reader is the consuming end of a Pipe. One process holds it at a time, and within that
// process one goroutine at a time uses it.
type Reader struct {
	p         *Pipe
	head      uint64 // position of the next record (released records are behind it)
	published uint64 // head as last stored for the writer
	held      bool   // Next returned a record not yet released (head is already past it)
	rest      []byte // what Read has not yet returned of the current record
	closed    bool
	mode      WaitMode
	budget    spinBudget    // how long SpinThenSleep spins
	quick     int           // waits in a row in which the next record came at once (see streaming)
	doubts    int           // streams in a row that were round trips at the tail (see slipBehind)
	tailSeen  uint64        // the writer's shared tail, as last read
	gap       time.Duration // about the longest a streaming reader lately waited for the tail to move
	noSlip    bool          // for the benchmark that times the reader with and without its slip
}

// A reader that caught up with the writer and saw the next record within quickLooks looks,
// streamWaits times in a row, is reading a stream; a longer wait (a round trip: ping-pong) is
// not one, and starts the count again.
const (
	quickLooks  = 32
	streamWaits = 8
)

// A streaming reader waits for the tail to move for patience times the longest it has lately
// waited for a move, within these bounds: past it, the stream has paused or ended, and the
// reader goes on to the records at the writer's heels. maxPatience bounds what a pause costs
// the records before it (a Pool's tasks come in bursts: BenchmarkPoolTask chunk=1 on AMD EPYC
// took 1.1x the time of a reader that never slips with it at 10 us, 0.98x at 4 us, and with a
// fixed 2 us patience a 64-byte stream 1.1x the time a record).
const (
	patience    = 4
	minPatience = 2 * time.Microsecond
	maxPatience = 4 * time.Microsecond
)

// maxDoubts bounds Reader.doubts: after that many false streams in a row, a reader takes
// streamWaits<<maxDoubts quick waits for a stream.
const maxDoubts = 7

// streaming reports whether the writer keeps up a stream, so the reader reads behind its tail.
// A reader whose last streams were false ones (see slipBehind) asks for more quick waits.
func (r *Reader) streaming() bool { return r.quick >= streamWaits<<r.doubts }

// count sets the run of quick waits to n, and tells the writer when that starts or ends a
// stream (pipeShared.streaming): the writer prefetches the lines ahead of it only for a reader
// that reads behind it, since for one at its heels that takes away the lines it reads next.
func (r *Reader) count(n int) {
	was := r.streaming()
	r.quick = n
	if now := r.streaming(); now != was {
		v := uint32(0)
		if now {
			v = 1
		}
		atomic.StoreUint32(&r.p.sh.streaming, v)
	}
}

// slipBehind keeps a streaming reader behind the tail the writer publishes every tailStep
// bytes (FastForward's temporal slipping, with B-Queue's batch probing): the records before
// that tail are read without a look at the lines the writer is filling, so no line is fought
// over record by record; only the tail's line crosses, once a step. Once the reader has read
// up to the tail it waits for the tail to move; when it has not moved for patience times the
// longest recent wait (see maxPatience), the stream has paused, and the reader goes on to the
// records at the writer's heels, no longer streaming. It never decides what is read, only when.
//
// A reader whose patience ran out with fewer than two records published past the tail was not
// reading a stream: a round trip whose answers come within quickLooks (a ping-pong between
// close cores) looks like one. It asks for twice as many quick waits before the next stream, up
// to maxDoubts times, until a tail moves again; without that, waiting out the patience every
// streamWaits round trips cost a spinning 64-byte ping-pong 1.9x a raw one's time on AMD EPYC
// when the guest's two vCPUs sat close (a raw round trip of 190 ns), and 0.8x with it.
//
// Each look at the tail is followed by a PAUSE: the tail moves once a step, so the wait loses
// nothing by looking less often, and a core it shares with the writer (two hyperthreads) gives
// the writer the issue slots the loop would take. AMD EPYC, 64-byte Send, 32 runs each
// alternating: 9 of 32 runs took more than 35 ns a message without it, none with it (means
// 29 and 22 ns, the floor alike in both); such runs are rarer with it, not gone.
func (r *Reader) slipBehind() {
	sh := r.p.sh
	var start time.Time
	for i := 0; ; i++ {
		if t := atomic.LoadUint64(&sh.tail); t > r.head {
			r.tailSeen = t
			r.doubts = 0
			if !start.IsZero() {
				r.gap = max(r.gap*7/8, time.Since(start))
			}
			return
		}
		spin.Pause() // see the doc comment
		if i%64 != 63 {
			continue
		}
		if start.IsZero() {
			start = time.Now()
		} else if waited := time.Since(start); waited > min(max(patience*r.gap, minPatience), maxPatience) {
			r.gap = max(r.gap, waited) // a stream that resumes is given longer
			r.count(0)                 // no longer streaming
			if !r.published2() {
				r.doubts = min(r.doubts+1, maxDoubts)
			}
			return
		}
	}
}

// published2 reports whether the records at head and after it are both published.
func (r *Reader) published2() bool {
	capacity := uint64(len(r.p.data))
	off := r.head & r.p.mask
	h := atomic.LoadUint64(r.p.header(off))
	if h == 0 {
		return false
	}
	_, size, _, err := parseHeader(h, off, capacity)
	return err == nil && atomic.LoadUint64(r.p.header((off+size)&r.p.mask)) != 0
}

// SetWaitMode sets how Next waits for records (SpinThenSleep by default). In Sleep mode the
// writer publishes with full fences, so that a sleep does not cost a memory barrier on the
// writer's CPU (see package ring's pipeShared).
func (r *Reader) SetWaitMode(m WaitMode) {
	r.mode = m
	full := uint32(0)
	if m == Sleep {
		full = 1
	}
	atomic.StoreUint32(&r.p.sh.fullFence, full)
}

// Reader claims the reading end for this process. It fails with ErrBusy if a live process
// holds it, and ErrClosed if it was closed. A dead holder's claim is taken over; since a
// reader publishes its position in batches, the new reader starts from the last published
// one, and may be given again records the dead one had already read (at least once, never
// lost).
func (p *Pipe) Reader() (*Reader, error) {
	if p.Closed() {
		return nil, ErrClosed
	}
	if err := claim(&p.sh.readerID, &p.sh.readerClosed, &p.sh.readerSleep); err != nil {
		return nil, err
	}
	h := atomic.LoadUint64(&p.sh.head)
	atomic.StoreUint32(&p.sh.fullFence, 0) // this reader's mode is the default
	atomic.StoreUint32(&p.sh.streaming, 0) // nor is it streaming yet
	return &Reader{p: p, head: h, published: h}, nil
}

// Next returns the next record in place, waiting for one. The slice is valid until Release
// (or the next Next, which releases it). After the writer closes and every record has been
// read, Next returns io.EOF; if the writer's process died instead, ErrPeerGone.
func (r *Reader) Next() ([]byte, error) { return r.NextContext(context.Background()) }

// NextContext is Next that gives up with ctx's error when ctx ends.
func (r *Reader) NextContext(ctx context.Context) ([]byte, error) {
	if r.closed || r.p.Closed() {
		return nil, ErrClosed
	}
	if r.held {
		r.release()
	}
	capacity := uint64(len(r.p.data))
	if r.streaming() && r.head >= r.tailSeen && !r.noSlip {
		r.slipBehind()
	}
	for {
		off := r.head & r.p.mask
		if h := atomic.LoadUint64(r.p.header(off)); h != 0 {
			n, size, pad, err := parseHeader(h, off, capacity)
			if err != nil {
				return nil, err
			}
			r.head += size
			if pad {
				continue
			}
			r.held = true
			start := off + recordHeader
			return r.p.data[start : start+uint64(n) : start+uint64(n)], nil
		}
		if err := r.waitData(ctx, off); err != nil {
			return nil, err
		}
	}
}

// Ready reports whether a record is there to be read now, without taking it: Python's
// conn.poll() with no timeout. Like Next, it releases the record Next returned before.
func (r *Reader) Ready() bool {
	if r.closed || r.p.Closed() {
		return false
	}
	ok, _ := r.look()
	return ok
}

// look releases the record Next returned before and reports whether one is there to read now
// (what Read has left of the current one counts), without taking it.
func (r *Reader) look() (bool, error) {
	if len(r.rest) > 0 {
		return true, nil
	}
	if r.held {
		r.release()
	}
	return r.peek()
}

// peek reports whether a record is published at head, moving head past padding records.
func (r *Reader) peek() (bool, error) {
	capacity := uint64(len(r.p.data))
	for {
		off := r.head & r.p.mask
		h := atomic.LoadUint64(r.p.header(off))
		if h == 0 {
			return false, nil
		}
		_, size, pad, err := parseHeader(h, off, capacity)
		if err != nil {
			return false, err
		}
		if !pad {
			return true, nil
		}
		r.head += size
	}
}

// Poll waits until a record is there to be read, without taking it (Python's
// conn.poll(timeout), with the timeout as ctx's deadline): nil once one is, io.EOF once the
// writer closed and everything was read, ErrPeerGone as Next, or ctx's error. Like Next, it
// releases the record Next returned before.
func (r *Reader) Poll(ctx context.Context) error {
	if r.closed || r.p.Closed() {
		return ErrClosed
	}
	for {
		if ok, err := r.look(); ok || err != nil {
			return err
		}
		if err := r.waitData(ctx, r.head&r.p.mask); err != nil {
			return err
		}
	}
}

// Release gives the current record's space back to the writer.
func (r *Reader) Release() error {
	if !r.held {
		return ErrNotReserved
	}
	r.release()
	return nil
}

// release gives up the current record (Next has already moved head past it). The shared
// head is published in batches (a quarter of the capacity), or at once when the writer sleeps
// for space, so the reader does not bounce the head's cache line on every record.
func (r *Reader) release() {
	r.held, r.rest = false, nil
	if r.head-r.published >= uint64(len(r.p.data))/4 || atomic.LoadUint32(&r.p.sh.writerSleep) != 0 {
		r.publishHead()
	}
}

func (r *Reader) publishHead() {
	if r.published == r.head {
		return
	}
	atomic.StoreUint64(&r.p.sh.head, r.head)
	r.published = r.head
	if atomic.LoadUint32(&r.p.sh.writerSleep) != 0 {
		futex.Wake(r.p.headWord(), 1)
	}
}

// waitData waits until the writer publishes the record at off (the header there turns
// nonzero), closes, or dies. A sleeping reader sleeps on that header's high half.
func (r *Reader) waitData(ctx context.Context, off uint64) error {
	r.publishHead() // the writer may be waiting for what this reader already consumed
	sh := r.p.sh
	h := r.p.header(off)
	// While waiting, also load the line after the header's: a record of more than 56 bytes
	// goes on into it, and by the time the header turns, this has often fetched the rest, so
	// the reader's two misses overlap instead of following each other (ping-pong of 64-byte
	// records: 455 -> 390 ns here; streaming unchanged).
	next := r.p.header((off + 64) &^ 63 & r.p.mask)
	looks := 0
	arrived := func() bool { looks++; _ = atomic.LoadUint64(next); return atomic.LoadUint64(h) != 0 }
	if spinWait(r.mode, &r.budget, arrived, func() bool {
		return ctx.Err() != nil || atomic.LoadUint32(&sh.writerClosed) != 0
	}, func() bool { return r.p.peerGone(&sh.writerID, &sh.writerClosed) }) {
		if looks <= quickLooks { // the next record came at once
			r.count(r.quick + 1)
		} else {
			r.count(0)
		}
		return nil
	}
	r.count(0)
	asleep := time.Now()
	for {
		if atomic.LoadUint32(&sh.writerClosed) != 0 {
			if arrived() {
				return nil
			}
			return io.EOF
		}
		atomic.StoreUint32(&sh.readerSleep, 1)
		slice := futex.CheckSlice
		if atomic.LoadUint32(&sh.writerLight) != 0 && fence.Heavy() != nil {
			// The writer's last store may not be visible yet and nothing can make it so:
			// sleep in short slices (this process's system calls are being filtered).
			slice = time.Millisecond
		}
		if arrived() {
			atomic.StoreUint32(&sh.readerSleep, 0)
			return nil
		}
		err := futex.Park(ctx, r.p.typeWord(off), 0, slice)
		atomic.StoreUint32(&sh.readerSleep, 0)
		if err != nil {
			return err
		}
		if arrived() {
			r.budget.slept(time.Since(asleep))
			return nil
		}
		if r.p.peerGone(&sh.writerID, &sh.writerClosed) && !arrived() {
			return fmt.Errorf("%w: the writer died, or nobody claimed the writing end and everyone who could is gone", ErrPeerGone)
		}
	}
}

// Recv copies the next record into buf (reusing its storage) and releases it.
func (r *Reader) Recv(buf []byte) ([]byte, error) { return r.RecvContext(context.Background(), buf) }

// RecvContext is Recv that gives up with ctx's error when ctx ends.
func (r *Reader) RecvContext(ctx context.Context, buf []byte) ([]byte, error) {
	b, err := r.NextContext(ctx)
	if err != nil {
		return buf[:0], err
	}
	buf = append(buf[:0], b...)
	r.release()
	return buf, nil
}

// Read implements io.Reader over the bytes of the records, in order, joined: what a Writer's
// Write sent comes back as the same stream. It returns io.EOF after the writer closed.
func (r *Reader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for len(r.rest) == 0 {
		rec, err := r.Next()
		if err != nil {
			return 0, err
		}
		r.rest = rec
	}
	n := copy(b, r.rest)
	r.rest = r.rest[n:]
	if len(r.rest) == 0 {
		r.release()
	}
	return n, nil
}

// finish ends this Reader's use of the end (Close, HandOver): every record Next returned
// counts as read, and its later calls are ErrClosed.
func (r *Reader) finish() error {
	if r.closed {
		return ErrClosed
	}
	r.closed = true
	r.held, r.rest = false, nil
	r.count(0)
	r.publishHead()
	return nil
}

// HandOver gives the reading end up without closing it, so that another process (or this
// one, later) can claim it with Reader and go on from the next record: every record Next
// returned counts as read (the current one is released). This Reader is done (ErrClosed after).
func (r *Reader) HandOver() error {
	if err := r.finish(); err != nil {
		return err
	}
	if !atomic.CompareAndSwapUint32(&r.p.sh.readerID, uint32(self), 0) {
		return fmt.Errorf("%w: this process no longer held the reading end", ErrBusy)
	}
	return nil
}

// Close gives up the reading end; a writer waiting for space gets ErrClosed.
func (r *Reader) Close() error {
	if err := r.finish(); err != nil {
		return err
	}
	atomic.StoreUint32(&r.p.sh.readerClosed, 1)
	futex.Wake(r.p.headWord(), 1)
	return nil
}
