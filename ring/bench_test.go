package ring_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/internal/nontemporal"
	"github.com/shmkit/shmkit/internal/prefetch"
	"github.com/shmkit/shmkit/internal/spin"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/shm"
)

// BenchmarkSPSC64 moves 64-byte messages from a child process to this one. ns/op is per
// message; msg/s is reported too. The child writes each message into the ring (Send, or
// Reserve and fill in place with a Commit every 32, or SendBatch of 32 as shmkit bench's
// spsc_64B_batch32_throughput does, or Send through a writer buffered as the kernel paths'
// bufio.Writers are, 64 KiB, as spsc_64B_buffered_throughput), and this process takes it in
// place (Next). Baselines from the same run: a buffered
// Go channel between two goroutines of one process, and between two processes an os.Pipe, a
// unix socket and TCP loopback, each with 64 KiB bufio buffers on both sides (the fair way to
// stream over them).
func BenchmarkSPSC64(b *testing.B) { benchSPSC(b, 64, []int{1, 32}) }

// BenchmarkSPSC1K is BenchmarkSPSC64 with 1 KiB messages.
func BenchmarkSPSC1K(b *testing.B) { benchSPSC(b, 1024, []int{1}) }

func benchSPSC(b *testing.B, size int, batches []int) {
	for _, batch := range batches {
		name := "impl=shmkit-pipe"
		if batch > 1 {
			name = fmt.Sprintf("impl=shmkit-pipe-commit-every-%d", batch)
		}
		b.Run(name, func(b *testing.B) { spscShmkit(b, blastArgs{Size: size, Batch: batch}) })
	}
	if size == 64 {
		b.Run("impl=shmkit-pipe-sendbatch-32", func(b *testing.B) {
			spscShmkit(b, blastArgs{Size: size, Batch: 32, SendBatch: true})
		})
	}
	b.Run("impl=shmkit-pipe-buffered", func(b *testing.B) {
		spscShmkit(b, blastArgs{Size: size, Batch: 1, Buffer: 64 << 10})
	})
	b.Run("impl=shmkit-pipe-no-prefetch", func(b *testing.B) {
		spscShmkit(b, blastArgs{Size: size, Batch: 1, NoPrefetch: true})
	})
	b.Run("impl=shmkit-pipe-slip-vs-none", func(b *testing.B) { spscSlip(b, size) })
	b.Run("impl=raw-floor", func(b *testing.B) { spscFloor(b, size, false) })
	if nontemporal.Available {
		b.Run("impl=raw-floor-around", func(b *testing.B) { spscFloor(b, size, true) })
	}
	b.Run("impl=go-chan", func(b *testing.B) {
		if size == 64 {
			chanStream[[64]byte](b)
		} else {
			chanStream[[1024]byte](b)
		}
	})
	for _, kind := range []string{"os-pipe", "unix-socket", "tcp-loopback"} {
		b.Run("impl="+kind, func(b *testing.B) {
			conn, child, opened := kernelPeer(b, kind, size, b.N+1)
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 64<<10)
			m := make([]byte, size)
			if _, err := io.ReadFull(br, m); err != nil {
				b.Fatal(err)
			}
			opened()
			b.ResetTimer()
			for range b.N {
				if _, err := io.ReadFull(br, m); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			report(b)
			if err := child.WaitContext(b.Context()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// chanStream sends b.N values of M through a buffered channel between two goroutines.
func chanStream[M any](b *testing.B) {
	ch := make(chan M, 1024)
	go func() {
		var m M
		for range b.N {
			ch <- m
		}
	}()
	for range b.N {
		<-ch
	}
	report(b)
}

// spscSlip times one stream read in turns of 20,000 records with the reader's slip behind the
// writer (Reader.slipBehind: reading only up to the tail the writer publishes) and without
// (chasing the writer record by record), and reports both and their ratio: the machine's
// drift falls on both alike.
func spscSlip(b *testing.B, size int) {
	const turn = 20_000
	p := newPipe(b, 1<<20)
	r, err := p.Reader()
	if err != nil {
		b.Fatal(err)
	}
	child, err := blast.Start(b.Context(), blastArgs{P: p, N: b.N + 1, Size: size, Batch: 1})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		b.Fatal(err)
	}
	var with, without time.Duration
	var nWith, nWithout int
	b.ResetTimer()
	for i := 0; i < b.N; {
		slip := i/turn%2 == 0
		ring.SetSlip(r, slip)
		n := min(turn, b.N-i)
		t := time.Now()
		for j := i + 1; j <= i+n; j++ {
			if m, err := r.Next(); err != nil || !stamped(m, size, j) {
				b.Fatalf("message %d: %v", j, err)
			}
		}
		if d := time.Since(t); slip {
			with, nWith = with+d, nWith+n
		} else {
			without, nWithout = without+d, nWithout+n
		}
		i += n
	}
	b.StopTimer()
	if nWith > 0 && nWithout > 0 {
		w, wo := float64(with)/float64(nWith), float64(without)/float64(nWithout)
		b.ReportMetric(w, "slip-ns/msg")
		b.ReportMetric(wo, "no-slip-ns/msg")
		b.ReportMetric(w/wo, "ratio")
	}
	if err := child.WaitContext(b.Context()); err != nil {
		b.Fatal(err)
	}
}

// spscShmkit streams b.N records of a.Size bytes, committed every a.Batch, from a child
// writing as a says.
func spscShmkit(b *testing.B, a blastArgs) {
	size := a.Size
	p := newPipe(b, 1<<20)
	r, err := p.Reader()
	if err != nil {
		b.Fatal(err)
	}
	a.P, a.N = p, b.N+1
	child, err := blast.Start(b.Context(), a)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Next(); err != nil { // the first message waits for the child to start
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		m, err := r.Next()
		if err != nil || !stamped(m, size, i) {
			b.Fatalf("message %d: %v", i, err)
		}
	}
	b.StopTimer()
	report(b)
	if err := child.WaitContext(b.Context()); err != nil {
		b.Fatal(err)
	}
}

func report(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msg/s")
	}
}

// stamp marks message i as shmkit bench's streams do: its sequence number in the first 8 bytes
// and a byte of it in the last, so the reader reads its first line and its last where they lie
// in the ring (a reader that looked at the header alone would never fetch a 1 KiB record's
// other lines, and the writer would never have to take them back).
func stamp(msg []byte, i int) {
	binary.LittleEndian.PutUint64(msg, uint64(i))
	msg[len(msg)-1] = byte(i)
}

// stamped checks a message of size bytes against stamp's marks for i.
func stamped(m []byte, size, i int) bool {
	return len(m) == size && binary.LittleEndian.Uint64(m) == uint64(i) && m[size-1] == byte(i)
}

type blastArgs struct {
	P     *ring.Pipe
	N     int
	Size  int // bytes a message
	Batch int // commit after this many messages

	SendBatch  bool // SendBatch of Batch messages, not Reserve and Commit
	Buffer     int  // Writer.SetBuffer (the records go out Buffer bytes at a time, and at Close)
	NoPrefetch bool // the writer does not prefetch the lines ahead of it
}

// blast writes N messages of Size bytes into the ring: one Send each, or (Batch > 1) Reserve
// and fill in place, with a Commit every Batch, or SendBatch of Batch.
//
// Reserve's records are built where they lie, not stamped in a buffer and then copied in: a
// copy that reads the bytes just stored into its source cannot take them from the store
// buffer (its 16-byte loads span the stamp's narrower stores), so it waits until every older
// store has reached the cache, and the older ones are the last record's, into lines that
// may still be on their way back from the reader. On AMD EPYC, six alternating runs of
// commit-every-32: 14.3-14.7 ns a message built in place, 19.5-22.7 stamped and copied. Send
// copies, and is measured so, as the kernel paths' bufio.Writers copy: it pays the same wait,
// more lightly (16.8 ns, against 15.0 with its buffers stamped four messages ahead).
var blast = procs.Entry("ring.blast", func(ctx context.Context, a blastArgs) error {
	w, err := a.P.Writer()
	if err != nil {
		return err
	}
	ring.SetPrefetch(w, !a.NoPrefetch)
	if err := w.SetBuffer(a.Buffer); err != nil {
		return err
	}
	msg := make([]byte, a.Size)
	if a.SendBatch {
		batch := make([][]byte, a.Batch)
		for i := range batch {
			batch[i] = make([]byte, a.Size)
		}
		for i := 0; i < a.N; i += a.Batch {
			k := min(a.Batch, a.N-i)
			for j := range k {
				stamp(batch[j], i+j)
			}
			if err := w.SendBatch(batch[:k]); err != nil {
				return err
			}
		}
		return w.Close()
	}
	if a.Batch == 1 {
		for i := range a.N {
			stamp(msg, i)
			if err := w.Send(msg); err != nil {
				return err
			}
		}
		return w.Close()
	}
	for i, left := 0, a.Batch; i < a.N; i++ {
		buf, err := w.Reserve(a.Size)
		if err != nil {
			return err
		}
		copy(buf, msg) // the record is built where it lies, as Reserve is for
		stamp(buf, i)
		if left--; left == 0 || i == a.N-1 { // no division on the way: the kernel peers have none
			if err := w.Commit(); err != nil {
				return err
			}
			left = a.Batch
		}
	}
	return w.Close()
})

// The floor under a pipe: records of an 8-byte sequence number (where the pipe has its
// header) and Size bytes, packed into a 1 MiB region of a shared segment, with the pipe's
// tricks and none of its bookkeeping: the writer copies each record in with the lines
// prefetched as far ahead as the pipe's writer asks for them (four records, within 1 to 8 KiB)
// and stores its tail every 16 KiB; the reader reads only below that tail, pausing between
// looks at it, and stores its head every 64 KiB (its stream never pauses, so its step need not
// keep within a patience as the pipe's does), and checks each record's sequence number and
// last byte, as the pipe's reader checks stamp's marks. No header to parse, no check of any
// bound, no wait that sleeps, no peer's death noticed: what two processes on two cores of this
// machine can stream, the pipe's ceiling.
//
// impl=raw-floor-around writes the records with non-temporal stores instead
// (nontemporal.Record, which also zeroes the word after each and stores the writer's
// position), fenced before every tail: what a writer that goes around the cache could stream
// to a reader a tail behind it. The pipe does not (see package ring's pipeShared).
const (
	floorCapacity = 1 << 20
	floorTailStep = 16 << 10
	floorHeadStep = 64 << 10
	floorData     = 384 // tail, head and written, a line each
)

type floorArgs struct {
	Seg    *shm.Segment
	N      int
	Size   int
	Around bool // non-temporal stores, not copies
}

// floorLayout returns the tail, head and written words and the data region of a floor segment.
func floorLayout(s *shm.Segment) (tail, head, written *uint64, data []byte) {
	b := s.Bytes()
	return (*uint64)(unsafe.Pointer(&b[0])), (*uint64)(unsafe.Pointer(&b[128])),
		(*uint64)(unsafe.Pointer(&b[256])), b[floorData : floorData+floorCapacity]
}

// floorNext returns where the record after the one at pos starts: records of rec bytes, none
// split by the end of the region, and room for the word after each.
func floorNext(pos, rec uint64) uint64 {
	pos += rec
	if pos%floorCapacity+rec+8 > floorCapacity {
		pos += floorCapacity - pos%floorCapacity
	}
	return pos
}

var floorWriter = procs.Entry("ring.floorWriter", func(ctx context.Context, a floorArgs) error {
	tail, head, written, data := floorLayout(a.Seg)
	rec := uint64(a.Size) + 8
	ahead := ring.PrefetchAhead(rec) // as far as the pipe's writer asks for lines
	msg := make([]byte, a.Size)
	var pos, shared, seen, fetched uint64
	for i := range uint64(a.N) {
		for pos+rec+8-seen > floorCapacity {
			seen = atomic.LoadUint64(head)
		}
		off := pos % floorCapacity
		seq := (*uint64)(unsafe.Pointer(&data[off]))
		next := floorNext(pos, rec)
		msg[a.Size-1] = byte(i + 1) // the last byte, which the reader checks too (see stamp)
		if a.Around {
			nontemporal.Record(seq, i+1, &msg[0], uintptr(a.Size), written, next)
		} else {
			for ; fetched < pos+ahead && fetched+256 <= seen+floorCapacity; fetched += 256 {
				prefetch.Write(&data[fetched%floorCapacity])
			}
			copy(data[off+8:off+rec], msg)
			fence.Store64(seq, i+1)
		}
		if pos = next; pos-shared >= floorTailStep || i == uint64(a.N)-1 {
			if a.Around {
				nontemporal.Fence()
			}
			atomic.StoreUint64(tail, pos)
			shared = pos
		}
	}
	return nil
})

// spscFloor reads what floorWriter streams: BenchmarkSPSC64's ceiling, from the same run.
func spscFloor(b *testing.B, size int, around bool) {
	seg, err := shm.Anonymous(floorData + floorCapacity)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	tail, head, _, data := floorLayout(seg)
	child, err := floorWriter.Start(b.Context(), floorArgs{Seg: seg, N: b.N, Size: size, Around: around})
	if err != nil {
		b.Fatal(err)
	}
	rec := uint64(size) + 8
	var pos, seen, published uint64
	for seen == 0 { // the child has started
		seen = atomic.LoadUint64(tail)
	}
	b.ResetTimer()
	for i := range uint64(b.N) {
		for pos >= seen {
			if seen = atomic.LoadUint64(tail); pos >= seen {
				spin.Pause() // as the pipe's reader waits at the tail
			}
		}
		off := pos % floorCapacity
		if got := atomic.LoadUint64((*uint64)(unsafe.Pointer(&data[off]))); got != i+1 || data[off+rec-1] != byte(i+1) {
			b.Fatalf("record %d carries %d", i+1, got)
		}
		if pos = floorNext(pos, rec); pos-published >= floorHeadStep {
			atomic.StoreUint64(head, pos)
			published = pos
		}
	}
	b.StopTimer()
	report(b)
	if err := child.WaitContext(b.Context()); err != nil {
		b.Fatal(err)
	}
}

type kernelArgs struct {
	Kind string
	Addr string // socket address, or the path of the parent's pipe fd under /proc
	N    int
	Size int // bytes a message
}

// streamOut writes N messages of Size bytes to a kernel channel through a 64 KiB bufio.Writer.
var streamOut = procs.Entry("ring.streamOut", func(ctx context.Context, a kernelArgs) error {
	var w io.WriteCloser
	var err error
	switch a.Kind {
	case "os-pipe":
		w, err = os.OpenFile(a.Addr, os.O_WRONLY, 0)
	case "unix-socket":
		w, err = net.Dial("unix", a.Addr)
	case "tcp-loopback":
		w, err = net.Dial("tcp", a.Addr)
	}
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	m := make([]byte, a.Size)
	for i := range a.N {
		m[0] = byte(i)
		if _, err := bw.Write(m); err != nil {
			return err
		}
	}
	return errors.Join(bw.Flush(), w.Close())
})

// kernelPeer starts a child streaming n messages of size bytes over kind and returns this
// end, and a func to call once the first message arrived (the child has opened its end by
// then).
func kernelPeer(b *testing.B, kind string, size, n int) (io.ReadCloser, *procs.Process, func()) {
	b.Helper()
	switch kind {
	case "os-pipe":
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		path := fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), w.Fd())
		child, err := streamOut.Start(b.Context(), kernelArgs{Kind: kind, Addr: path, N: n, Size: size})
		if err != nil {
			b.Fatal(err)
		}
		// The child opens its own copy through /proc; this one must stay open until it has,
		// and then go, so EOF comes when the child closes.
		return r, child, func() { w.Close() }
	}
	network, addr := "tcp", "127.0.0.1:0"
	if kind == "unix-socket" {
		network, addr = "unix", filepath.Join(b.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	child, err := streamOut.Start(b.Context(), kernelArgs{Kind: kind, Addr: ln.Addr().String(), N: n, Size: size})
	if err != nil {
		b.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return conn, child, func() {}
}
