package ring

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/shmkit/shmkit/internal/prefetch"
)

func TestPipeLayout(t *testing.T) {
	var s pipeShared
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"capacity", unsafe.Offsetof(s.capacity), 0},
		{"writerClosed", unsafe.Offsetof(s.writerClosed), 8},
		{"readerClosed", unsafe.Offsetof(s.readerClosed), 12},
		{"writerID", unsafe.Offsetof(s.writerID), 16},
		{"readerID", unsafe.Offsetof(s.readerID), 20},
		{"writerLight", unsafe.Offsetof(s.writerLight), 24},
		{"fullFence", unsafe.Offsetof(s.fullFence), 28},
		{"elem", unsafe.Offsetof(s.elem), 32},
		{"tail", unsafe.Offsetof(s.tail), 128},
		{"head", unsafe.Offsetof(s.head), 256},
		{"readerSleep", unsafe.Offsetof(s.readerSleep), 384},
		{"writerSleep", unsafe.Offsetof(s.writerSleep), 388},
		{"streaming", unsafe.Offsetof(s.streaming), 392},
		{"members", unsafe.Offsetof(s.members), 512},
		{"sizeof", unsafe.Sizeof(s), pipeData}, {"pipeData", pipeData, 1536},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	data := make([]byte, 256)
	putHeader(data, 0, 13, recData)
	if n, size, pad, err := parseRecord(data, 0, 64); err != nil || n != 13 || size != 24 || pad {
		t.Fatalf("data record: %d %d %v %v", n, size, pad, err)
	}
	putHeader(data, 200, 48, recPad)
	if _, size, pad, err := parseRecord(data, 200, 56); err != nil || size != 56 || !pad {
		t.Fatalf("pad record: %d %v %v", size, pad, err)
	}
	putHeader(data, 32, 16, recPad)
	if _, size, pad, err := parseRecord(data, 32, 64); err != nil || size != 24 || !pad {
		t.Fatalf("pad record before an aligned payload: %d %v %v", size, pad, err)
	}
	for _, c := range []struct {
		name        string
		length, typ uint32
		off, avail  uint64
	}{
		{"unpublished", 13, recData, 0, 16},
		{"too long", 200, recData, 0, 256},
		{"past the end", 64, recData, 192, 256},
		{"bad type", 8, 7, 0, 64},
		{"pad past the end", 56, recPad, 200, 256},
		{"pad of odd length", 5, recPad, 0, 256},
		{"misaligned", 8, recData, 4, 64},
		{"header past end", 0, recData, 252, 64},
	} {
		b := make([]byte, 256)
		if c.off+8 <= 256 {
			putHeader(b, c.off, c.length, c.typ)
		}
		if _, _, _, err := parseRecord(b, c.off, c.avail); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}

// FuzzParseRecord: whatever the shared region holds, parsing is an error or a record that lies
// inside the region and inside what was published.
func FuzzParseRecord(f *testing.F) {
	seed := make([]byte, 64)
	putHeader(seed, 0, 5, recData)
	f.Add(seed, uint64(0), uint64(64))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint64(8), uint64(1<<40))
	f.Fuzz(func(t *testing.T, data []byte, off, avail uint64) {
		n, size, pad, err := parseRecord(data, off, avail)
		if err != nil {
			return
		}
		if off+size > uint64(len(data)) || size > avail || (!pad && uint64(n)+recordHeader > size) {
			t.Fatalf("accepted a record outside the region: off %d size %d n %d len %d avail %d", off, size, n, len(data), avail)
		}
		_ = binary.LittleEndian
	})
}

// FuzzReader: whatever the data region of a pipe holds, a Reader returns records that lie
// inside it, or an error, and never panics or reads outside it.
func FuzzReader(f *testing.F) {
	var seed [256]byte
	putHeader(seed[:], 0, 5, recData)
	putHeader(seed[:], 16, 200, recData)
	f.Add(seed[:], uint64(0))
	putHeader(seed[:], 16, 232, recPad)
	f.Add(seed[:], uint64(16))
	f.Add(bytes.Repeat([]byte{1, 0, 0, 0, 1, 0, 0, 0}, 32), uint64(8))
	f.Fuzz(func(t *testing.T, region []byte, head uint64) {
		p, err := NewPipe(Capacity(256))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		copy(p.data, region)
		p.sh.head = head &^ 7
		r, err := p.Reader()
		if err != nil {
			t.Fatal(err)
		}
		r.SetWaitMode(Sleep)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		base := uintptr(unsafe.Pointer(&p.data[0]))
		for range 2 * len(p.data) / recordHeader {
			rec, err := r.NextContext(ctx)
			if err != nil {
				return
			}
			if len(rec) > 0 {
				start := uintptr(unsafe.Pointer(&rec[0])) - base
				if start < recordHeader || start+uintptr(len(rec)) > uintptr(len(p.data)) {
					t.Fatalf("record of %d bytes at %d, outside the region", len(rec), start)
				}
			}
		}
	})
}

// pipeEnds makes a 64 KiB pipe, closed when the test ends, and claims both its ends.
func pipeEnds(t *testing.T) (*Pipe, *Writer, *Reader) {
	t.Helper()
	p, err := NewPipe(Capacity(1 << 16))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	w, err := p.Writer()
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	return p, w, r
}

// The reader tells the writer when it starts and stops streaming; a new reader, or one that
// ends its use of the end, starts from not streaming. The writer asks for lines ahead only
// while the flag is up or while it batches its commits.
func TestStreamingFlag(t *testing.T) {
	p, w, r := pipeEnds(t)
	flag := func() uint32 { return atomic.LoadUint32(&p.sh.streaming) }
	send := func(n int) {
		for range n {
			if err := w.Send(make([]byte, 64)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range streamWaits - 1 {
		r.count(i + 1)
	}
	if flag() != 0 {
		t.Fatal("streaming before streamWaits quick waits")
	}
	send(64) // 4.5 KiB
	if w.chunks != 0 {
		t.Fatalf("the writer asked for %d chunks ahead of a reader at its heels", w.chunks)
	}
	for range 64 { // a batch of 4.5 KiB, committed at its end: the reader waits behind it
		if _, err := w.Reserve(64); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if w.chunks < 3*1024/prefetch.Chunk {
		t.Fatalf("%d chunks asked for by a writer batching its commits", w.chunks)
	}
	before := w.chunks
	r.count(streamWaits)
	if flag() != 1 {
		t.Fatal("not streaming after streamWaits quick waits")
	}
	send(64)
	if w.chunks-before < 3*1024/prefetch.Chunk || w.fetched < w.tail+prefetchAhead(72)-prefetch.Chunk {
		t.Fatalf("%d chunks, fetched to %d with tail %d: the writer did not keep 1 KiB ahead of a streaming reader",
			w.chunks, w.fetched, w.tail)
	}
	r.count(0)
	if flag() != 0 {
		t.Fatal("still streaming after a slow wait")
	}
	r.count(streamWaits)
	if err := r.HandOver(); err != nil {
		t.Fatal(err)
	}
	if flag() != 0 {
		t.Fatal("a handed-over end still says it streams")
	}
	atomic.StoreUint32(&p.sh.streaming, 1) // as a reader killed while streaming leaves it
	if _, err := p.Reader(); err != nil {
		t.Fatal(err)
	}
	if flag() != 0 {
		t.Fatal("a new reader inherited the flag")
	}
}

// A reader that streams and, at the tail, finds one record past it and no more, however long it
// waits, was in a round trip (a fast ping-pong): it doubts the next stream, asking for twice as
// many quick waits, until a tail moves again. A stream past the tail is no reason to doubt.
func TestFalseStreamDoubted(t *testing.T) {
	p, w, r := pipeEnds(t)
	next := func() {
		t.Helper()
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	send := func(n int) {
		t.Helper()
		for range n {
			if err := w.Send(make([]byte, 64)); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.count(streamWaits)
	send(2) // a stream, paused past the tail
	next()  // waits out the patience at the tail
	if r.streaming() || r.doubts != 0 {
		t.Fatalf("after a paused stream: streaming %v, %d doubts, want none", r.streaming(), r.doubts)
	}
	next()
	for doubts := 1; doubts <= maxDoubts+1; doubts++ {
		r.count(streamWaits << min(doubts-1, maxDoubts)) // streaming, as the last doubts allow
		if !r.streaming() {
			t.Fatalf("not streaming after %d quick waits with %d doubts", r.quick, r.doubts)
		}
		send(1) // the answer of a round trip: one record, no tail past it
		next()  // waits out the patience at the tail, then reads it
		if r.streaming() || r.doubts != min(doubts, maxDoubts) {
			t.Fatalf("round trip %d: streaming %v, %d doubts", doubts, r.streaming(), r.doubts)
		}
	}
	r.count(streamWaits << (maxDoubts - 1))
	if r.streaming() {
		t.Fatal("streaming with fewer quick waits than the doubts ask for")
	}
	r.count(streamWaits << maxDoubts)
	send(2) // a stream, paused past the tail
	next()
	if r.doubts != maxDoubts {
		t.Fatalf("%d doubts after a paused stream, want %d", r.doubts, maxDoubts)
	}
	next()
	r.count(streamWaits << maxDoubts)
	send(int(tailStep(uint64(len(p.data))))/72 + 1) // a tail's worth: the tail moves
	next()
	if r.doubts != 0 {
		t.Fatalf("%d doubts after the tail moved", r.doubts)
	}
}
