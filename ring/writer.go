package ring

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/nontemporal"
	"github.com/shmkit/shmkit/internal/prefetch"
)

// A Writer is the producing end of a Pipe. One process holds it at a time, and within that
// process one goroutine at a time uses it (as with a bufio.Writer).
//
// Records are written in place: Reserve hands out the space of the next record, and Commit
// publishes every record reserved since the last Commit with one store, of the first one's
// header, so a writer can batch its publications as a bufio.Writer batches system calls. Filling a record
// must be finished before the next Reserve, which may publish the records before it when it
// has to wait for space.
type Writer struct {
	p         *Pipe
	tail      uint64 // next write position: records up to here are reserved
	published uint64 // tail as last stored for the reader
	head      uint64 // the reader's head as last read: free space is computed against it
	closed    bool
	mode      WaitMode
	budget    spinBudget // how long SpinThenSleep spins

	pending       uint64 // offset of the first record reserved since the last Commit
	pendingHeader uint64 // its header, stored by Commit
	sharedTail    uint64 // tail as last stored in the control block
	light         bool   // publish without a full fence: see publish
	lastData      uint64 // offset of the last data record reserved (for cancel)
	fetched       uint64 // position up to which lines were prefetched for writing
	chunks        uint64 // how many chunks were asked for (for the tests)
	quickMax      uint64 // the largest record quick takes (under alignedPayload, at most MaxRecord), kept so quick inlines
	noPrefetch    bool   // for the benchmark that times the writer with and without prefetching
	buffer        uint64 // SetBuffer's size: 0, every Send publishes
	ahead         uint64 // how far ahead of tail lines are asked for: see prefetchAhead
	unfenced      bool   // records written around the cache wait for a fence (see sendAround)
}

// SetWaitMode sets how Reserve waits for space (SpinThenSleep by default).
func (w *Writer) SetWaitMode(m WaitMode) { w.mode = m }

// SetBuffer makes Send, SendBatch and Write buffer their records as a bufio.Writer does: the
// reader sees them once size bytes of records wait (size is capped at a quarter of the
// capacity), at Flush, Commit, Close or HandOver, or when the writer has to wait for space.
// Size 0, the default, publishes every Send and every SendBatch at once. It fails with
// ErrInvalid for a negative size.
//
// A buffered writer on amd64 writes its records around the cache (non-temporal stores), so
// that it does not take back, line by line, what the reader read a lap ago; the records are
// published by a plain store after a fence (SFENCE), so the reader that sees one sees every
// byte before it. It suits a stream that nobody waits on message by message, between cores
// that share no cache: on AMD EPYC, 64-byte records through a 64 KiB buffer streamed at
// 1.25-1.6x Send's rate, and 1 KiB ones at 1.3-1.5x (BenchmarkSPSC64 and SPSC1K,
// impl=shmkit-pipe-buffered); while the host placed the guest's two vCPUs where a stream
// through the cache ran a third faster, at 0.8x and 0.6-0.8x. Records sent and not yet
// published die with the process, as a bufio.Writer's buffer does.
func (w *Writer) SetBuffer(size int) error {
	if size < 0 {
		return fmt.Errorf("%w: a buffer of %d bytes", ErrInvalid, size)
	}
	w.buffer = min(uint64(size), uint64(len(w.p.data))/4) // at least 16: a pipe holds 64 bytes or more
	return nil
}

// Flush publishes every record written since the last publication: what a buffered Send left
// waiting (see SetBuffer), and what was reserved and not yet committed. Nothing waiting is
// not an error.
func (w *Writer) Flush() error {
	if w.closed {
		return ErrClosed
	}
	if w.tail != w.published {
		w.publish()
	}
	return nil
}

// Writer claims the writing end for this process. It fails with ErrBusy if a live process
// holds it, and ErrClosed if it was closed. A dead holder's claim is taken over.
func (p *Pipe) Writer() (*Writer, error) {
	if p.Closed() {
		return nil, ErrClosed
	}
	if err := claim(&p.sh.writerID, &p.sh.writerClosed, &p.sh.writerSleep); err != nil {
		return nil, err
	}
	head := atomic.LoadUint64(&p.sh.head)
	t, err := p.frontier(max(atomic.LoadUint64(&p.sh.tail), head), head)
	if err != nil {
		return nil, err
	}
	atomic.StoreUint32(&p.sh.writerLight, 0) // until this process is registered
	fence.Prepare()
	return &Writer{p: p, tail: t, published: t, sharedTail: t, head: head, ahead: minPrefetch,
		quickMax: uint64(min(alignedPayload-1, p.MaxRecord()))}, nil
}

// frontier finds the end of the published records: from t, a record boundary at or behind
// it, past every published header to the first zero one. The shared tail lags the records
// (see publishTail); this catches up, for a writer taking the end over and for Len.
func (p *Pipe) frontier(t, head uint64) (uint64, error) {
	capacity := uint64(len(p.data))
	for {
		off := t & p.mask
		h := atomic.LoadUint64(p.header(off))
		if h == 0 {
			return t, nil
		}
		_, size, _, err := parseHeader(h, off, capacity)
		if err != nil {
			return 0, err
		}
		if t+size-head > capacity {
			return 0, fmt.Errorf("%w: records past the reader's head by more than the capacity", ErrCorrupt)
		}
		t += size
	}
}

// headWord is the word a writer waiting for space sleeps on: the low half of head.
func (p *Pipe) headWord() *uint32 { return (*uint32)(unsafe.Pointer(&p.sh.head)) }

// header returns the header word of the record at offset off of the data region, and typeWord
// its high half, the word a reader waiting at off sleeps on (little-endian).
func (p *Pipe) header(off uint64) *uint64   { return (*uint64)(unsafe.Pointer(&p.data[off])) }
func (p *Pipe) typeWord(off uint64) *uint32 { return (*uint32)(unsafe.Pointer(&p.data[off+4])) }

// Reserve returns n bytes of the ring to fill in place, as the next record, waiting for space;
// Commit publishes it. Nothing is copied. It fails with ErrTooLarge beyond MaxRecord.
func (w *Writer) Reserve(n int) ([]byte, error) { return w.ReserveContext(context.Background(), n) }

// ReserveContext is Reserve that gives up with ctx's error when ctx ends.
func (w *Writer) ReserveContext(ctx context.Context, n int) ([]byte, error) {
	if off, size, ok := w.quick(n); ok && w.open() {
		w.put(off, uint32(n), recData, size)
		w.prefetch(w.batching())
		start := off + recordHeader
		return w.p.data[start : start+uint64(n) : start+uint64(n)], nil
	}
	return w.reserve(ctx, n)
}

// quick returns the offset and size of the next record, of n bytes, and whether it is the
// common case that Reserve and Send take inlined: less than alignedPayload bytes, fitting
// before the end of the region, in space the cached head shows free.
func (w *Writer) quick(n int) (off, size uint64, ok bool) {
	capacity := uint64(len(w.p.data))
	size = recordHeader + align8(uint64(n))
	off = w.tail & w.p.mask
	return off, size, uint64(n) <= w.quickMax && off+size+recordHeader <= capacity &&
		w.tail+size+recordHeader-w.head <= capacity
}

// open reports whether neither this end nor the pipe was closed.
func (w *Writer) open() bool { return !w.closed && !w.p.Closed() }

// reserve is ReserveContext's every case: padding to the end of the region or to a line,
// waiting for space, and the errors.
func (w *Writer) reserve(ctx context.Context, n int) ([]byte, error) {
	switch {
	case !w.open():
		return nil, ErrClosed
	case n < 0 || n > w.p.MaxRecord():
		return nil, fmt.Errorf("%w: %d bytes, this pipe carries at most %d", ErrTooLarge, n, w.p.MaxRecord())
	}
	capacity := uint64(len(w.p.data))
	size := recordHeader + align8(uint64(n))
	off := w.tail & w.p.mask
	// A large payload starts on a 64-byte line (copies into it run at full speed, and the
	// caller's data is aligned for any use), behind a padding record, unless the padding
	// could make the record not fit in an otherwise empty ring. Below alignedPayload the
	// padding costs more than the alignment gains: 1 KiB records aligned streamed at 0.56-0.60
	// of the floor's rate, unaligned at 0.67-0.73 (AMD EPYC, BenchmarkSPSC1K, six alternating
	// runs each).
	aligned := n >= alignedPayload && 2*size+2*(lineAlign-recordHeader) <= capacity
	var endPad, linePad uint64
	if aligned {
		linePad = (lineAlign - (off+recordHeader)%lineAlign) % lineAlign
	}
	if toEnd := capacity - off; linePad+size > toEnd {
		endPad, linePad = toEnd, 0 // pad to the end, then the record at 0
		if aligned {
			linePad = lineAlign - recordHeader // or just far enough past 0 for its payload
		}
	}
	// The paddings, the record, and the zero header after it.
	if err := w.waitSpace(ctx, endPad+linePad+size+recordHeader); err != nil {
		return nil, err
	}
	if endPad != 0 {
		w.put(off, uint32(endPad-recordHeader), recPad, endPad)
		off = 0
	}
	if linePad != 0 {
		w.put(off, uint32(linePad-recordHeader), recPad, linePad)
		off += linePad
	}
	w.put(off, uint32(n), recData, size)
	w.fetchAhead(w.batching())
	start := off + recordHeader
	return w.p.data[start : start+uint64(n) : start+uint64(n)], nil
}

// put lays out the record of size bytes at off. The header after it is zeroed first: the
// reader stops at a zero header, and a free region holds whatever an earlier lap left. The
// first record since the last Commit keeps its header back for Commit to publish; the ones
// after it are written at once, since the reader cannot get past the first.
func (w *Writer) put(off uint64, length, typ uint32, size uint64) {
	*w.p.header((off + size) & w.p.mask) = 0
	h := uint64(length) | uint64(typ)<<32
	if typ == recData {
		w.lastData = off
		w.ahead = prefetchAhead(size)
	}
	if w.tail == w.published {
		w.pending, w.pendingHeader = off, h
	} else {
		*w.p.header(off) = h
	}
	w.tail += size
}

// prefetchAhead is how far ahead of its tail the writer asks for lines to write, in chunks
// of prefetch.Chunk bytes, after a record of size bytes: four such records, within
// [minPrefetch, maxPrefetch]. A line asked for must come back from the reader's core before
// the writer gets to it, and the records before it take that long to write: 1 KiB ahead was
// best for 64-byte records (2 and 4 KiB took 1.3x and 2x the time a record), but it is one
// 1 KiB record ahead, and four took a 1 KiB stream from 141 to 78 ns a record (2 KiB: 161 to
// 129 ns; 4 KiB and up, whose copies run at full speed on lines of their own: the same), AMD
// EPYC, BenchmarkSPSC1K and sizes beside it, alternating runs. Further ahead, the lines wait
// where the reader can take them back.
func prefetchAhead(size uint64) uint64 { return min(max(4*size, minPrefetch), maxPrefetch) }

const (
	minPrefetch = 1 << 10
	maxPrefetch = 8 << 10
)

// prefetch asks for the free lines up to w.ahead past the tail, ready to be written (see
// package prefetch): a line the reader read a lap ago then comes back while the writer fills
// the lines before it, instead of holding up every store behind its first.
func (w *Writer) prefetch(batching bool) {
	if w.tail+w.ahead > w.fetched && !w.noPrefetch {
		w.fetchAhead(batching)
	}
}

// batching reports whether the record just reserved follows others not yet committed.
func (w *Writer) batching() bool { return w.pending != w.lastData }

// fetchAhead is prefetch's work, a chunk at a time. Only free lines (behind the reader's head
// as last read, a lap on) are asked for, never one the reader may still be reading, and only
// while the reader streams (reads behind the tail) or the writer batches its commits (the
// reader then waits at the batch's first header, behind it): a reader at the heels of a writer
// that publishes every record has its hardware prefetcher on these very lines, and taking
// them from it slows a round trip (64-byte ping-pong: 1.1x the time).
func (w *Writer) fetchAhead(batching bool) {
	capacity := uint64(len(w.p.data))
	if capacity < prefetch.Chunk {
		w.fetched = ^uint64(0) // too small a ring to bother
		return
	}
	if !batching && atomic.LoadUint32(&w.p.sh.streaming) == 0 {
		w.fetched = (w.tail + w.ahead + prefetch.Chunk) &^ (prefetch.Chunk - 1) // look again a chunk on
		return
	}
	next := max(w.fetched, w.tail&^(prefetch.Chunk-1))
	for ; next < w.tail+w.ahead && next+prefetch.Chunk <= w.head+capacity; next += prefetch.Chunk {
		prefetch.Write(&w.p.data[next&w.p.mask])
		w.chunks++
	}
	w.fetched = next
}

// cancel turns the record Reserve just handed out, n bytes long and not yet committed, into
// padding: the reader skips it. For a value whose encoding failed after its space was taken.
func (w *Writer) cancel(n int) {
	h := uint64(align8(uint64(n))) | uint64(recPad)<<32
	if w.pending == w.lastData && w.tail != w.published && w.pendingHeader>>32 == recData &&
		w.pendingHeader&0xffffffff == uint64(n) {
		w.pendingHeader = h // still held back for Commit
		return
	}
	*w.p.header(w.lastData) = h
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

// publish stores the first pending header: the atomic store orders every byte written before
// it, and the reader, which polls the header at its head, sees all the records at once. Then
// a sleeping reader is woken (it set its flag before its last look at the header). The shared
// tail is stored only every tailStep bytes (see publishTail): a reader polls headers, and a
// streaming one reads the tail once per step.
//
// Once this process is registered for membarrier (fence.Light), the header's store is a
// plain release store instead of a full fence (half the cost of a message); writerLight,
// stored first, tells the reader to run that fence for both sides before it sleeps. A reader
// that sleeps on every wait asks for full fences instead (fullFence): see pipeShared.
func (w *Writer) publish() { w.publishAt(w.pending, w.pendingHeader) }

// publishAt is publish of the records from off on, the first one's header h.
func (w *Writer) publishAt(off, h uint64) {
	w.fenceAround()
	if w.light && atomic.LoadUint32(&w.p.sh.fullFence) == 0 {
		fence.Store64(w.p.header(off), h)
	} else {
		w.publishFull(off, h)
	}
	w.published = w.tail
	w.announce(off)
}

// announce follows a publication of the records from off on: it wakes a sleeping reader, and
// stores the tail when it is due. Only after the header's store, never before: a reader that
// set its flag and then saw no record must be seen asleep (see publish).
func (w *Writer) announce(off uint64) {
	sh := w.p.sh
	if atomic.LoadUint32(&sh.readerSleep) != 0 {
		futex.Wake(w.p.typeWord(off), 1)
	}
	if w.tailDue() {
		w.publishTail()
	}
}

// publishFull is publish's store when it is not a light one: the first after this process
// registered for membarrier says so first, and a reader that asked for full fences gets them.
func (w *Writer) publishFull(off, h uint64) {
	sh := w.p.sh
	light := fence.Light() && atomic.LoadUint32(&sh.fullFence) == 0
	if w.light && !light { // the reader sleeps on every wait and asks for full fences
		atomic.StoreUint32(&sh.writerLight, 0) // a full fence after every light store
		w.light = false
	}
	atomic.StoreUint64(w.p.header(off), h)
	if light { // said before the first light store
		atomic.StoreUint32(&sh.writerLight, 1)
		w.light = true
	}
}

// tailStep is how far the writer goes between stores of the shared tail, for a ring of capacity
// bytes. A streaming reader reads only up to the tail (see Reader.slipBehind) and waits on its
// line, so each store costs the writer a round trip of that line between the cores (several
// hundred ns on a 2-vCPU AMD EPYC guest): seldom enough that this is a few percent of the
// records' own cost. In one run on AMD EPYC, 64-byte records, a fixed 2 us patience: a step of
// 1 KiB took 1.3x the time a record of 4 KiB's; 16 KiB, with the patience learned from the
// waits, 0.75x.
func tailStep(capacity uint64) uint64 { return min(capacity/8, 16<<10) }

// publishTail stores tail for Len, a streaming reader's slip and a writer that takes this end
// over: they read records only up to it, or walk the headers on from it, so a tail behind the
// records is slower to read, never wrong.
// It is a hint that nobody sleeps on, so its store needs no full fence.
func (w *Writer) publishTail() {
	w.sharedTail = w.published
	fence.Store64(&w.p.sh.tail, w.published)
}

// tailDue reports whether the writer has gone tailStep past the tail it last stored.
func (w *Writer) tailDue() bool { return w.published-w.sharedTail >= tailStep(uint64(len(w.p.data))) }

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
	if spinWait(w.mode, &w.budget, enough, func() bool {
		return ctx.Err() != nil || atomic.LoadUint32(&sh.readerClosed) != 0
	}, func() bool { return w.p.peerGone(&sh.readerID, &sh.readerClosed) }) {
		return nil
	}
	asleep := time.Now()
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
			w.budget.slept(time.Since(asleep))
			return nil
		}
		if w.p.peerGone(&sh.readerID, &sh.readerClosed) {
			return fmt.Errorf("%w: the reader died, or nobody claimed the reading end and everyone who could is gone", ErrPeerGone)
		}
	}
}

// Send copies b into the pipe as one record, published at once (by a buffered writer, once a
// buffer's worth waits: see SetBuffer).
func (w *Writer) Send(b []byte) error { return w.SendContext(context.Background(), b) }

// SendContext is Send that gives up with ctx's error when ctx ends.
func (w *Writer) SendContext(ctx context.Context, b []byte) error {
	if w.buffer != 0 {
		return w.sendBuffered(ctx, b)
	}
	// The common case with nothing reserved before: the header is not held back for Commit,
	// it is published as soon as the payload is in.
	if off, size, ok := w.quick(len(b)); ok && w.tail == w.published && w.open() {
		p := w.p
		*p.header(off + size) = 0
		copy(p.data[off+recordHeader:off+size], b)
		w.tail += size
		w.ahead = prefetchAhead(size)
		// publishAt, by hand: it is too big for the compiler to inline, and its call costs
		// a 64-byte Send 5%.
		sh := p.sh
		if h := uint64(len(b)) | recData<<32; w.light && atomic.LoadUint32(&sh.fullFence) == 0 {
			fence.Store64(p.header(off), h)
		} else {
			w.publishFull(off, h)
		}
		w.published = w.tail
		if atomic.LoadUint32(&sh.readerSleep) != 0 || w.tailDue() {
			w.announce(off)
		}
		w.prefetch(false)
		return nil
	}
	buf, err := w.reserve(ctx, len(b))
	if err != nil {
		return err
	}
	copy(buf, b)
	return w.Commit()
}

// SendBatch copies each message in as a record and publishes them together (a buffered
// writer: as Send does, see SetBuffer).
func (w *Writer) SendBatch(msgs [][]byte) error {
	return w.SendBatchContext(context.Background(), msgs)
}

// SendBatchContext is SendBatch that gives up with ctx's error when ctx ends.
func (w *Writer) SendBatchContext(ctx context.Context, msgs [][]byte) error {
	if w.buffer != 0 {
		for _, m := range msgs {
			if err := w.sendBuffered(ctx, m); err != nil {
				return err
			}
		}
		return nil
	}
	for _, m := range msgs {
		buf, err := w.ReserveContext(ctx, len(m))
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

// sendBuffered is Send for a buffered writer (SetBuffer): the record is written, around the
// cache when it is quick's common case, and published only once a buffer's worth waits.
func (w *Writer) sendBuffered(ctx context.Context, b []byte) error {
	if off, size, ok := w.quick(len(b)); ok && w.open() {
		w.sendAround(off, size, b)
	} else {
		buf, err := w.reserve(ctx, len(b))
		if err != nil {
			return err
		}
		copy(buf, b)
	}
	w.publishDue()
	return nil
}

// publishDue publishes the records written since the last publication once a buffer's worth
// of them waits: any at all, for a writer that does not buffer.
func (w *Writer) publishDue() {
	if w.tail != w.published && w.tail-w.published >= w.buffer {
		w.publish()
	}
}

// sendAround writes b as the record of size bytes at off with non-temporal stores (package
// nontemporal): its header, its payload and the zero header after it. Such stores are weakly
// ordered and linger in the CPU's write-combining buffers, so they never publish a record: the
// first record since the last publication keeps its header back, as put does, and publishAt
// fences before it stores that header.
func (w *Writer) sendAround(off, size uint64, b []byte) {
	h := uint64(len(b)) | recData<<32
	if w.tail == w.published {
		w.pending, w.pendingHeader = off, h
		h = 0 // the header stays zero until publishAt
	}
	nontemporal.Record(w.p.header(off), h, unsafe.SliceData(b), uintptr(len(b)), nil, 0)
	w.lastData = off
	w.tail += size
	w.unfenced = true
}

// fenceAround makes the records written around the cache visible before any store after it.
func (w *Writer) fenceAround() {
	if w.unfenced {
		nontemporal.Fence()
		w.unfenced = false
	}
}

// Write implements io.Writer: b goes out as records of at most MaxRecord bytes, published
// together (by a buffered writer, once a buffer's worth waits: see SetBuffer), which the
// Reader's Read joins back into the same byte stream.
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
	w.publishDue()
	return written, nil
}

// finish ends this Writer's use of the end (Close, HandOver): what it committed is published,
// and so is what a buffered writer left waiting; what it reserved and did not commit is
// dropped (unless buffered: then it is flushed with the rest), and its later calls are
// ErrClosed.
func (w *Writer) finish() error {
	if w.closed {
		return ErrClosed
	}
	if w.buffer != 0 && w.tail != w.published {
		w.publish()
	}
	w.fenceAround() // nothing of this writer's may land after the next one's stores
	w.closed = true
	w.tail = w.published
	w.publishTail()
	return nil
}

// HandOver gives the writing end up without ending the stream, so that another process (or
// this one, later) can claim it with Writer and go on: what CPython allows by letting several
// processes use one Connection in turn, serialised by a Lock. The records committed so far stay,
// in order, and the next writer's follow them; records reserved and not committed are dropped.
// This Writer is done (ErrClosed after). For many writers at once, use a Queue.
func (w *Writer) HandOver() error {
	if err := w.finish(); err != nil {
		return err
	}
	atomic.StoreUint32(&w.p.sh.writerLight, 0) // the next writer is light only once registered
	if !atomic.CompareAndSwapUint32(&w.p.sh.writerID, uint32(self), 0) {
		return fmt.Errorf("%w: this process no longer held the writing end", ErrBusy)
	}
	return nil
}

// Close ends the stream: the reader gets the records already committed, then io.EOF. Records
// reserved and not committed are dropped.
func (w *Writer) Close() error {
	if err := w.finish(); err != nil {
		return err
	}
	atomic.StoreUint32(&w.p.sh.writerClosed, 1)
	futex.Wake(w.p.typeWord(w.tail&w.p.mask), 1) // a sleeping reader looks again and finds the end
	return nil
}
