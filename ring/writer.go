package ring

import (
	"context"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
)

// A Writer is the producing end of a Pipe. One process holds it at a time, and within that
// process one goroutine at a time uses it (as with a bufio.Writer).
//
// Records are written in place: Reserve hands out the space of the next record, and Commit
// publishes every record reserved since the last Commit with one store of the shared tail, so
// a writer can batch its publications as a bufio.Writer batches system calls. Filling a record
// must be finished before the next Reserve, which may publish the records before it when it
// has to wait for space.
type Writer struct {
	p         *Pipe
	tail      uint64 // next write position: records up to here are reserved
	published uint64 // tail as last stored for the reader
	head      uint64 // the reader's head as last read: free space is computed against it
	closed    bool
	mode      WaitMode
}

// SetWaitMode sets how Reserve waits for space (SpinThenSleep by default).
func (w *Writer) SetWaitMode(m WaitMode) { w.mode = m }

// Writer claims the writing end for this process. It fails with ErrBusy if a live process
// holds it, and ErrClosed if it was closed. A dead holder's claim is taken over.
func (p *Pipe) Writer() (*Writer, error) {
	if err := claim(&p.sh.writerID, &p.sh.writerClosed); err != nil {
		return nil, err
	}
	t := atomic.LoadUint64(&p.sh.tail)
	return &Writer{p: p, tail: t, published: t, head: atomic.LoadUint64(&p.sh.head)}, nil
}

// tailWord and headWord are the futex words: the low halves of the indices (little-endian).
func (p *Pipe) tailWord() *uint32 { return (*uint32)(unsafe.Pointer(&p.sh.tail)) }
func (p *Pipe) headWord() *uint32 { return (*uint32)(unsafe.Pointer(&p.sh.head)) }

// Reserve returns n bytes of the ring to fill in place, as the next record, waiting for space;
// Commit publishes it. Nothing is copied. It fails with ErrTooLarge beyond MaxRecord.
func (w *Writer) Reserve(n int) ([]byte, error) { return w.ReserveContext(context.Background(), n) }

// ReserveContext is Reserve that gives up with ctx's error when ctx ends.
func (w *Writer) ReserveContext(ctx context.Context, n int) ([]byte, error) {
	switch {
	case w.closed:
		return nil, ErrClosed
	case n < 0 || n > w.p.MaxRecord():
		return nil, fmt.Errorf("%w: %d bytes, this pipe carries at most %d", ErrTooLarge, n, w.p.MaxRecord())
	}
	capacity := uint64(len(w.p.data))
	size := recordHeader + align8(uint64(n))
	off := w.tail & w.p.mask
	need := size
	if toEnd := capacity - off; size > toEnd {
		need = toEnd + size // pad to the end, then the record at 0
	}
	if err := w.waitSpace(ctx, need); err != nil {
		return nil, err
	}
	if toEnd := capacity - off; size > toEnd {
		putHeader(w.p.data, off, uint32(toEnd-recordHeader), recPad)
		w.tail += toEnd
		off = 0
	}
	putHeader(w.p.data, off, uint32(n), recData) // unseen by the reader until published
	w.tail += size
	start := off + recordHeader
	return w.p.data[start : start+uint64(n) : start+uint64(n)], nil
}

// Commit publishes every record reserved since the last Commit (and any padding between).
func (w *Writer) Commit() error {
	if w.closed {
		return ErrClosed
	}
	if w.tail == w.published {
		return ErrNotReserved
	}
	w.publish()
	return nil
}

// publish moves the shared tail. The atomic store orders every byte of the records before it;
// then a sleeping reader is woken (it set its flag before its last look at tail).
func (w *Writer) publish() {
	w.published = w.tail
	atomic.StoreUint64(&w.p.sh.tail, w.tail)
	if atomic.LoadUint32(&w.p.sh.readerSleep) != 0 {
		futex.Wake(w.p.tailWord(), 1)
	}
}

func (w *Writer) free() uint64 { return uint64(len(w.p.data)) - (w.tail - w.head) }

// waitSpace waits until need bytes are free, reading the reader's head only when the cached
// one does not show enough.
func (w *Writer) waitSpace(ctx context.Context, need uint64) error {
	if w.free() >= need {
		return nil
	}
	sh := w.p.sh
	enough := func() bool { w.head = atomic.LoadUint64(&sh.head); return w.free() >= need }
	if enough() {
		return nil
	}
	if w.tail != w.published {
		w.publish() // the reader must see the records before it can free their space
	}
	if spinWait(w.mode, enough, func() bool {
		return ctx.Err() != nil || atomic.LoadUint32(&sh.readerClosed) != 0
	}, func() bool { return peerGone(&sh.readerID, &sh.readerClosed) }) {
		return nil
	}
	for {
		if atomic.LoadUint32(&sh.readerClosed) != 0 {
			return fmt.Errorf("%w: the reader closed its end", ErrClosed)
		}
		atomic.StoreUint32(&sh.writerSleep, 1)
		if enough() {
			atomic.StoreUint32(&sh.writerSleep, 0)
			return nil
		}
		err := futex.Park(ctx, w.p.headWord(), uint32(w.head), futex.CheckSlice)
		atomic.StoreUint32(&sh.writerSleep, 0)
		if err != nil {
			return err
		}
		if enough() {
			return nil
		}
		if peerGone(&sh.readerID, &sh.readerClosed) {
			return fmt.Errorf("%w: the reader died", ErrPeerGone)
		}
	}
}

// Send copies b into the pipe as one record.
func (w *Writer) Send(b []byte) error { return w.SendContext(context.Background(), b) }

// SendContext is Send that gives up with ctx's error when ctx ends.
func (w *Writer) SendContext(ctx context.Context, b []byte) error {
	buf, err := w.ReserveContext(ctx, len(b))
	if err != nil {
		return err
	}
	copy(buf, b)
	return w.Commit()
}

// SendBatch copies each message in as a record and publishes them together.
func (w *Writer) SendBatch(msgs [][]byte) error {
	for _, m := range msgs {
		buf, err := w.Reserve(len(m))
		if err != nil {
			return err
		}
		copy(buf, m)
	}
	if w.tail == w.published {
		return nil
	}
	return w.Commit()
}

// Write implements io.Writer: b goes out as records of at most MaxRecord bytes, published
// together, which the Reader's Read joins back into the same byte stream.
func (w *Writer) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), w.p.MaxRecord())]
		buf, err := w.Reserve(len(chunk))
		if err != nil {
			return written, err
		}
		copy(buf, chunk)
		written += len(chunk)
		b = b[len(chunk):]
	}
	if w.tail != w.published {
		w.publish()
	}
	return written, nil
}

// Close ends the stream: the reader gets the records already committed, then io.EOF. Records
// reserved and not committed are dropped.
func (w *Writer) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	w.tail = w.published
	atomic.StoreUint32(&w.p.sh.writerClosed, 1)
	futex.Wake(w.p.tailWord(), 1) // a sleeping reader looks again and finds the end
	return nil
}
