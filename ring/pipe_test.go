package ring_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// gen makes the same sequence of records on both sides: random lengths from 0 to max, bytes
// from a random pool, and from 16 bytes on, the sequence number and an xxhash of the rest.
type gen struct {
	rnd  *rand.Rand
	pool []byte
	max  int
	seq  uint64
	buf  []byte
}

func newGen(seed uint64, max int) *gen {
	pool := make([]byte, 1<<16)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range pool {
		pool[i] = byte(r.Uint32())
	}
	return &gen{rnd: rand.New(rand.NewPCG(seed, seed)), pool: pool, max: max, buf: make([]byte, max)}
}

func (g *gen) next() []byte {
	n := g.rnd.IntN(g.max + 1)
	start := int(g.seq*2654435761) % (len(g.pool) - g.max)
	b := g.buf[:n]
	copy(b, g.pool[start:start+n])
	if n >= 16 {
		binary.LittleEndian.PutUint64(b, g.seq)
		binary.LittleEndian.PutUint64(b[8:], xxhash.Sum64(b[16:]))
	}
	g.seq++
	return b
}

type produceArgs struct {
	P     *ring.Pipe
	Count int // 0: until killed
	Seed  uint64
	Max   int
	Send  bool // each record with Send, not Reserve and Commit
	// Buffer is Writer.SetBuffer's size; with Flush > 0, Flush after every Flush records.
	Buffer, Flush int
}

var produce = procs.Entry("ring.produce", func(ctx context.Context, a produceArgs) error {
	w, err := a.P.Writer()
	if err != nil {
		return err
	}
	if err := w.SetBuffer(a.Buffer); err != nil {
		return err
	}
	g := newGen(a.Seed, a.Max)
	for i := 0; a.Count == 0 || i < a.Count; i++ {
		rec := g.next()
		if a.Send {
			if err := w.Send(rec); err != nil {
				return err
			}
			if a.Flush > 0 && i%a.Flush == 0 {
				if err := w.Flush(); err != nil {
					return err
				}
			}
			continue
		}
		buf, err := w.Reserve(len(rec))
		if err != nil {
			return err
		}
		copy(buf, rec)
		if err := w.Commit(); err != nil {
			return err
		}
	}
	return w.Close()
})

// verify reads records and checks each against the generator; it returns how many it read
// and the error that ended the stream.
func verify(r *ring.Reader, g *gen, limit int) (int, error) {
	for i := 0; limit == 0 || i < limit; i++ {
		got, err := r.Next()
		if err != nil {
			return i, err
		}
		want := g.next()
		if !bytes.Equal(got, want) {
			return i, fmt.Errorf("record %d: %d bytes differ from the %d sent", i, len(got), len(want))
		}
		if len(got) >= 16 && (binary.LittleEndian.Uint64(got) != g.seq-1 || binary.LittleEndian.Uint64(got[8:]) != xxhash.Sum64(got[16:])) {
			return i, fmt.Errorf("record %d: sequence or checksum wrong", i)
		}
		if err := r.Release(); err != nil {
			return i, err
		}
	}
	return limit, nil
}

// endsOf is a pipe with two ends to claim: a Pipe, or a PipeOf.
type endsOf[W, R any] interface {
	Writer() (W, error)
	Reader() (R, error)
}

// ends claims both ends of p for this process.
func ends[W, R any](t testing.TB, p endsOf[W, R]) (W, R) {
	t.Helper()
	w, err := p.Writer()
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	return w, r
}

func newPipe(t testing.TB, capacity int) *ring.Pipe {
	t.Helper()
	p, err := ring.CreatePipe(testmain.Name(t), ring.Capacity(capacity))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestPipeTenMillionRecords(t *testing.T) {
	count := 10_000_000
	if testing.Short() {
		count = 1_000_000
	}
	stream(t, 1024, count, 7)
}

// Records up to 16 KiB in a 64 KiB ring: payloads of 4 KiB or more go behind padding to a
// 64-byte line, and the padding and wrap records mix.
func TestPipeLargeRecords(t *testing.T) {
	stream(t, 64<<10, 100_000, 8)
}

// stream sends count random records of up to a quarter of capacity from a child and checks
// every byte, in order, then the end of the stream.
func stream(t *testing.T, capacity, count int, seed uint64) {
	p := newPipe(t, capacity)
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	child, err := produce.Start(t.Context(), produceArgs{P: p, Count: count, Seed: seed, Max: capacity / 4})
	if err != nil {
		t.Fatal(err)
	}
	n, err := verify(r, newGen(seed, capacity/4), 0)
	if !errors.Is(err, io.EOF) || n != count {
		t.Fatalf("read %d of %d records, then %v", n, count, err)
	}
	if err := child.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A writer killed mid-stream, committing records one by one or sending them: the reader gets
// every record written before the kill, whole, then ErrPeerGone, and a new writer takes the
// end over.
func TestPipeProducerKilledMidStream(t *testing.T) {
	for _, a := range []produceArgs{{}, {Send: true}, {Send: true, Buffer: 512}} {
		t.Run(fmt.Sprintf("send=%v,buffer=%d", a.Send, a.Buffer), func(t *testing.T) { producerKilled(t, a) })
	}
}

// producerKilled: the records published before the kill arrive whole (a buffered writer's
// unpublished ones die with it), then ErrPeerGone.
func producerKilled(t *testing.T, a produceArgs) {
	p := newPipe(t, 4096)
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	a.P, a.Seed, a.Max = p, 9, 1024
	child, err := produce.Start(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(9, 1024)
	if n, err := verify(r, g, 5000); err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
	_ = child.Kill()
	_ = child.JoinContext(t.Context())
	start := time.Now()
	n, err := verify(r, g, 0) // everything committed before the kill, intact, then ErrPeerGone
	if !errors.Is(err, ring.ErrPeerGone) {
		t.Fatalf("after %d more records: %v, want ErrPeerGone", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to notice the dead writer", d)
	}
	// The writing end can be claimed again: a new producer continues the stream.
	w, err := p.Writer()
	if err != nil {
		t.Fatalf("claiming a dead writer's end: %v", err)
	}
	if err := w.Send([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Recv(nil); err != nil || string(got) != "next" {
		t.Fatalf("%q %v", got, err)
	}
}

// TestPipeBuffered: a buffered writer's records stay unseen until a buffer's worth of them
// waits, Flush or Close; then they arrive whole and in order, here and across processes
// (records of up to 1 KiB, some past the common case the writer puts around the cache).
func TestPipeBuffered(t *testing.T) {
	p := newPipe(t, 1<<16)
	w, r := ends(t, p)
	if err := w.SetBuffer(-1); !errors.Is(err, ring.ErrInvalid) {
		t.Fatalf("SetBuffer(-1): %v, want ErrInvalid", err)
	}
	if err := w.SetBuffer(4096); err != nil {
		t.Fatal(err)
	}
	sent := []string{"a", "bb", "", "dddd"}
	if err := w.SendBatch([][]byte{[]byte(sent[0]), []byte(sent[1])}); err != nil {
		t.Fatal(err)
	}
	for _, m := range sent[2:] {
		if err := w.Send([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if r.Ready() || p.Len() != 0 {
		t.Fatalf("records seen before a flush (Len %d)", p.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range sent {
		if got, err := r.Recv(nil); err != nil || string(got) != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	if err := w.Flush(); err != nil { // nothing waiting
		t.Fatal(err)
	}
	// A buffer's worth goes out without a Flush, and not before.
	msg := make([]byte, 64) // 72 bytes with its header
	n := 0
	for ; !r.Ready(); n++ {
		if n > 4096/72+1 {
			t.Fatalf("%d records of 72 bytes sent and none seen", n)
		}
		if err := w.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	if n*72 < 4096 {
		t.Fatalf("seen after %d records, %d bytes: before a buffer's worth", n, n*72)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()

	p = newPipe(t, 1<<16)
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	const count = 20_000
	child, err := produce.Start(t.Context(), produceArgs{P: p, Count: count, Seed: 5, Max: 1024, Send: true, Buffer: 4096, Flush: 97})
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(5, 1024)
	if n, err := verify(r, g, count); err != nil {
		t.Fatalf("after %d records: %v", n, err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) { // Close flushed the last ones
		t.Fatalf("after %d records: %v, want io.EOF", count, err)
	}
	if err := child.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

type hangArgs struct {
	P     *ring.Pipe
	Ready *sem.Event
}

// reserveAndHang commits "a", then reserves "b" and "c" and fills them without committing,
// says so, and waits to be killed.
var reserveAndHang = procs.Entry("ring.reserveAndHang", func(ctx context.Context, a hangArgs) error {
	w, err := a.P.Writer()
	if err != nil {
		return err
	}
	if err := w.Send([]byte("a")); err != nil {
		return err
	}
	for _, m := range []string{"b", "c"} {
		buf, err := w.Reserve(len(m))
		if err != nil {
			return err
		}
		copy(buf, m)
	}
	if err := a.Ready.Set(); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
})

// A writer killed with records reserved and filled but not committed: the reader gets what
// was committed, then ErrPeerGone, never the uncommitted records; a new writer's records come
// next.
func TestPipeWriterKilledBeforeCommit(t *testing.T) {
	p := newPipe(t, 256)
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	seg, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	ready, err := sem.At[sem.Event](seg.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	child, err := reserveAndHang.Start(t.Context(), hangArgs{P: p, Ready: ready})
	if err != nil {
		t.Fatal(err)
	}
	if err := ready.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = child.Kill()
	_ = child.JoinContext(t.Context())
	if got, err := r.Recv(nil); err != nil || string(got) != "a" {
		t.Fatalf("first record: %q %v", got, err)
	}
	if got, err := r.Recv(nil); !errors.Is(err, ring.ErrPeerGone) {
		t.Fatalf("after the committed record: %q %v, want ErrPeerGone", got, err)
	}
	if n := p.Len(); n != 0 {
		t.Fatalf("Len %d: uncommitted records counted", n)
	}
	w, err := p.Writer()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"d", "ee"} {
		if err := w.Send([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Close()
	for _, want := range []string{"d", "ee"} {
		if got, err := r.Recv(nil); err != nil || string(got) != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	}
	if _, err := r.Recv(nil); err != io.EOF {
		t.Fatalf("after the new writer closed: %v, want io.EOF", err)
	}
}

type consumeArgs struct{ P *ring.Pipe }

var consume = procs.Entry("ring.consume", func(ctx context.Context, a consumeArgs) error {
	r, err := a.P.Reader()
	if err != nil {
		return err
	}
	for {
		if _, err := r.Next(); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
})

// A reader killed mid-stream: the writer gets ErrPeerGone, and a new reader takes the end
// over and reads on from the dead one's last published position: every record not yet taken,
// in order, perhaps after some the dead one had taken (at least once).
func TestPipeConsumerKilled(t *testing.T) {
	p := newPipe(t, 1024)
	w, err := p.Writer()
	if err != nil {
		t.Fatal(err)
	}
	child, err := consume.Start(t.Context(), consumeArgs{P: p})
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 100)
	sent := uint64(0)
	send := func() error {
		binary.LittleEndian.PutUint64(msg, sent)
		err := w.Send(msg)
		if err == nil {
			sent++
		}
		return err
	}
	for range 50 { // the reader is slow: the ring fills and the writer waits on it
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	_ = child.Kill()
	_ = child.JoinContext(t.Context())
	start := time.Now()
	var sendErr error
	for i := 0; i < 100 && sendErr == nil; i++ {
		sendErr = send()
	}
	if !errors.Is(sendErr, ring.ErrPeerGone) {
		t.Fatalf("Send into a pipe whose reader died: %v, want ErrPeerGone", sendErr)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to notice the dead reader", d)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := p.Reader()
	if err != nil {
		t.Fatalf("claiming a dead reader's end: %v", err)
	}
	var got []uint64
	for {
		rec, err := r.Recv(nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, binary.LittleEndian.Uint64(rec))
	}
	if len(got) == 0 || got[len(got)-1] != sent-1 {
		t.Fatalf("the new reader got %v, want a run ending at %d", got, sent-1)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("the new reader got %v: not one run", got)
		}
	}
}

type gobArgs struct {
	P *ring.Pipe
	N int
}

type point struct {
	X, Y int
	Name string
}

var gobWrite = procs.Entry("ring.gob", func(ctx context.Context, a gobArgs) error {
	w, err := a.P.Writer()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := gob.NewEncoder(bw)
	for i := range a.N {
		if err := enc.Encode(point{i, -i, fmt.Sprint("p", i)}); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return w.Close()
})

func TestPipeAsReaderWriter(t *testing.T) {
	p := newPipe(t, 4096)
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	child, err := gobWrite.Start(t.Context(), gobArgs{P: p, N: 2000})
	if err != nil {
		t.Fatal(err)
	}
	dec := gob.NewDecoder(bufio.NewReader(r))
	for i := 0; ; i++ {
		var pt point
		err := dec.Decode(&pt)
		if errors.Is(err, io.EOF) {
			if i != 2000 {
				t.Fatalf("EOF after %d values", i)
			}
			break
		}
		if err != nil || pt != (point{i, -i, fmt.Sprint("p", i)}) {
			t.Fatalf("value %d: %+v %v", i, pt, err)
		}
	}
	if err := child.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestPipeInProcess(t *testing.T) {
	p := newPipe(t, 256)
	w, r := ends(t, p)
	// io.Copy through the pipe, many wraps of a 256-byte ring.
	src := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, bytes.NewReader(src))
		done <- errors.Join(err, w.Close())
	}()
	var got bytes.Buffer
	if _, err := io.Copy(&got, r); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), src) {
		t.Fatal("io.Copy through the pipe changed the bytes")
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after EOF: %v", err)
	}
	if err := w.Send([]byte("x")); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// Payloads of 4 KiB or more start on a 64-byte boundary, unless the padding could keep the
// record from fitting; every size up to MaxRecord goes through, lap after lap, intact.
func TestPipeLargePayloadsAligned(t *testing.T) {
	p := newPipe(t, 32<<10)
	w, _ := p.Writer()
	r, _ := p.Reader()
	sizes := []int{4095, 4096, 8, 5000, 40, 16320, 16321, p.MaxRecord(), 0, 12000, 1024}
	done := make(chan error, 1)
	go func() {
		for i := range 300 {
			n := sizes[i%len(sizes)]
			buf, err := w.Reserve(n)
			if err != nil {
				done <- err
				return
			}
			for j := range buf {
				buf[j] = byte(i + j)
			}
			if err := w.Commit(); err != nil {
				done <- err
				return
			}
		}
		done <- w.Close()
	}()
	for i := range 300 {
		n := sizes[i%len(sizes)]
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(rec) != n {
			t.Fatalf("record %d: %d bytes, want %d", i, len(rec), n)
		}
		for j := range rec {
			if rec[j] != byte(i+j) {
				t.Fatalf("record %d: byte %d is %d", i, j, rec[j])
			}
		}
		if addr := uintptr(unsafe.Pointer(unsafe.SliceData(rec))); n >= 4096 && n <= 16320 && addr%64 != 0 {
			t.Fatalf("record %d of %d bytes at %#x: not on a 64-byte boundary", i, n, addr)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type idleArgs struct {
	P   *ring.Pipe
	For time.Duration
}

// idleEnds blocks a Reader on the empty pipe, then a Writer on the full one, each for For in
// the default mode, and fails if either wait cost more than a tenth of its time in CPU.
var idleEnds = procs.Entry("ring.idle", func(ctx context.Context, a idleArgs) error {
	w, err := a.P.Writer()
	if err != nil {
		return err
	}
	r, err := a.P.Reader()
	if err != nil {
		return err
	}
	if err := testmain.BlockedCheaply(ctx, "Reader.NextContext", a.For, func(ctx context.Context) error {
		_, err := r.NextContext(ctx)
		return err
	}); err != nil {
		return err
	}
	for p := a.P; p.Len()+48+8 <= p.Capacity(); { // fill it: 48-byte records, and the zero header after
		if err := w.Send(make([]byte, 40)); err != nil {
			return err
		}
	}
	return testmain.BlockedCheaply(ctx, "Writer.SendContext", a.For, func(ctx context.Context) error {
		return w.SendContext(ctx, make([]byte, 40))
	})
})

// A blocked end sleeps: spinning is bounded by the budget, and an idle wait is in the kernel.
func TestPipeBlockedEndUsesNoCPU(t *testing.T) {
	child, err := idleEnds.Start(t.Context(), idleArgs{P: newPipe(t, 4096), For: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := child.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestPipeTimeouts(t *testing.T) {
	p := newPipe(t, 128)
	w, _ := p.Writer()
	r, _ := p.Reader()
	ctx, cancel := context.WithTimeout(t.Context(), 80*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := r.NextContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty pipe: %v", err)
	}
	for p.Len()+48 <= p.Capacity() { // fill it: 48 bytes a record, header included
		if err := w.Send(make([]byte, 40)); err != nil {
			t.Fatal(err)
		}
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 80*time.Millisecond)
	defer cancel2()
	if err := w.SendContext(ctx2, make([]byte, 40)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send into a full pipe: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("two 80 ms timeouts took %v", d)
	}
}

func TestPipeBadInput(t *testing.T) {
	for _, c := range []int{0, -1, 1 << 41} {
		if _, err := ring.CreatePipe(testmain.Name(t), ring.Capacity(c)); !errors.Is(err, ring.ErrInvalid) {
			t.Errorf("capacity %d: %v", c, err)
		}
	}
	// A capacity that is not a power of two is rounded up (and at least MinPipeCapacity).
	for c, want := range map[int]int{1: 64, 63: 64, 100: 128, 4096: 4096} {
		p, err := ring.NewPipe(ring.Capacity(c))
		if err != nil || p.Capacity() != want {
			t.Errorf("capacity %d: %v, %v, want %d", c, p, err, want)
		}
		if p != nil {
			_ = p.Close()
		}
	}
	if p, err := ring.NewPipe(); err != nil || p.Capacity() != ring.DefaultPipeCapacity {
		t.Errorf("NewPipe(): %v %v", p, err)
	} else {
		_ = p.Close()
	}
	p := newPipe(t, 256)
	w, _ := p.Writer()
	r, _ := p.Reader()
	if _, err := w.Reserve(p.MaxRecord() + 1); !errors.Is(err, ring.ErrTooLarge) {
		t.Errorf("oversized record: %v", err)
	}
	if err := w.Commit(); !errors.Is(err, ring.ErrNotReserved) {
		t.Errorf("Commit with nothing reserved: %v", err)
	}
	if err := r.Release(); !errors.Is(err, ring.ErrNotReserved) {
		t.Errorf("Release with nothing taken: %v", err)
	}
	if _, err := w.Reserve(p.MaxRecord()); err != nil {
		t.Errorf("largest record: %v", err)
	}
	if p.Len() != 0 {
		t.Error("an uncommitted or refused record is visible")
	}
	// a name of another kind
	s, err := shm.Create(testmain.Name(t), 4096, shm.Kind("sem.Mutex"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := ring.OpenPipe(s.Name()); !errors.Is(err, shm.ErrKind) {
		t.Errorf("OpenPipe of a mutex segment: %v", err)
	}
}

type claimArgs struct{ P *ring.Pipe }

var claimWriter = procs.Entry("ring.claimWriter", func(ctx context.Context, a claimArgs) error {
	if _, err := a.P.Writer(); !errors.Is(err, ring.ErrBusy) {
		return fmt.Errorf("second writer process: %v, want ErrBusy", err)
	}
	return nil
})

func TestPipeEndsAreExclusive(t *testing.T) {
	p := newPipe(t, 256)
	if _, err := p.Writer(); err != nil {
		t.Fatal(err)
	}
	if err := claimWriter.Run(t.Context(), claimArgs{P: p}); err != nil {
		t.Fatal(err)
	}
}

type serveArgs struct{ D *ring.Duplex }

// serve answers each request with it upper-cased, until the other side closes.
var serve = procs.Entry("ring.serve", func(ctx context.Context, a serveArgs) error {
	c, err := a.D.Side(1)
	if err != nil {
		return err
	}
	for {
		req, err := c.Next()
		if errors.Is(err, io.EOF) {
			return c.Writer.Close()
		}
		if err != nil {
			return err
		}
		if err := c.Send(bytes.ToUpper(req)); err != nil {
			return err
		}
	}
})

func TestDuplexRequestResponse(t *testing.T) {
	d, err := ring.CreateDuplex(testmain.Name(t), ring.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	defer d.Unlink()
	c, err := d.Side(0)
	if err != nil {
		t.Fatal(err)
	}
	server, err := serve.Start(t.Context(), serveArgs{D: d})
	if err != nil {
		t.Fatal(err)
	}
	var resp []byte
	for i := range 1000 {
		req := fmt.Sprintf("request %d", i)
		if err := c.Send([]byte(req)); err != nil {
			t.Fatal(err)
		}
		if resp, err = c.Recv(resp); err != nil || string(resp) != strings.ToUpper(req) {
			t.Fatalf("%q %v", resp, err)
		}
	}
	if err := c.Writer.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the server closed: %v", err)
	}
	if err := server.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Side(2); !errors.Is(err, ring.ErrInvalid) {
		t.Fatalf("side 2: %v", err)
	}
}
