package bench

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
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
)

func init() { groups = append(groups, streamScenarios) }

// cpythonFewer divides a stream's or a round trip's count for CPython, whose rates would make
// the same count take minutes; the figures are rates and medians, which the count does not
// change.
const cpythonFewer = 20

// kernelBatch is the user-space buffering every kernel baseline gets on both sides: a
// bufio.Writer and a bufio.Reader of 64 KiB, so a system call moves many messages, as a ring
// record's commit publishes one without any.
const kernelBatch = 64 << 10

func streamScenarios() []Scenario {
	note := "one producer process, one consumer process; every message carries its sequence number and a fill byte, checked on receipt. shmkit commits each message to the ring (no batching); os-pipe (a FIFO), unix-socket and tcp-loopback write and read through 64 KiB bufio buffers on both sides; go-chan is a buffered channel (1024) of the message arrays between two goroutines of one process; boost: Boost.Interprocess message_queue (1024 slots) to a forked child, built from bench/boost/peer.cpp; cpython: multiprocessing.Pipe send_bytes/recv_bytes, with a twentieth of the messages (at its rate the same count takes minutes; the figure is a rate)"
	var out []Scenario
	for _, c := range []struct {
		name        string
		size, count int
	}{{"spsc_64B_throughput", 64, 4_000_000}, {"spsc_1KiB_throughput", 1024, 1_000_000}} {
		c := c
		s := Scenario{Name: c.name, Unit: "msg/s", Higher: true, Note: note,
			Goal: "≥ 2x the best kernel baseline (issue 14)"}
		for _, impl := range []string{Shmkit, GoChan, OSPipe, UnixSocket, TCPLoopback} {
			impl := impl
			s.Impls = append(s.Impls, Impl{Name: impl, Run: func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
				return stream(ctx, impl, c.size, o.scale(c.count))
			}})
		}
		s.Impls = append(s.Impls, boostStream(c.size, c.count), Impl{Name: CPython, Run: func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
			return python(ctx, "stream", itoa(c.size), itoa(o.scale(c.count/cpythonFewer)))
		}})
		out = append(out, s)
	}
	return out
}

type streamArgs struct {
	Impl  string
	Pipe  *ring.Pipe
	Addr  string // FIFO path, socket path or TCP address
	Size  int
	Count int
}

// streamWriter is the producer process.
var streamWriter = procs.Entry("bench.streamWriter", func(ctx context.Context, a streamArgs) error {
	msg := make([]byte, a.Size)
	if a.Impl == Shmkit {
		w, err := a.Pipe.Writer()
		if err != nil {
			return err
		}
		for i := range a.Count {
			fill(msg, i)
			if err := w.SendContext(ctx, msg); err != nil {
				return err
			}
		}
		return w.Close()
	}
	var conn io.WriteCloser
	var err error
	switch a.Impl {
	case OSPipe:
		conn, err = os.OpenFile(a.Addr, os.O_WRONLY, 0)
	case UnixSocket:
		conn, err = net.Dial("unix", a.Addr)
	case TCPLoopback:
		conn, err = net.Dial("tcp", a.Addr)
	default:
		err = fmt.Errorf("no stream writer for %q", a.Impl)
	}
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(conn, kernelBatch)
	for i := range a.Count {
		fill(msg, i)
		if _, err := bw.Write(msg); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return conn.Close()
})

// fill writes message i: its sequence number, then a byte that depends on it.
func fill(msg []byte, i int) {
	binary.LittleEndian.PutUint64(msg, uint64(i))
	msg[len(msg)-1] = byte(i)
}

// check verifies message i.
func check(msg []byte, i int) error {
	if len(msg) < 8 || binary.LittleEndian.Uint64(msg) != uint64(i) || msg[len(msg)-1] != byte(i) {
		return fmt.Errorf("message %d arrived wrong (%d bytes)", i, len(msg))
	}
	return nil
}

// stream moves count messages of size bytes from a child to this process and returns the
// rate, timed from the first message's arrival to the last's.
func stream(ctx context.Context, impl string, size, count int) (float64, error) {
	return streamN(ctx, impl, size, count, count)
}

// streamN is stream with the producer sending sent messages and this process expecting want:
// tests make them differ to see a run that moves too little fail.
func streamN(ctx context.Context, impl string, size, sent, want int) (float64, error) {
	if want < 2 {
		return 0, fmt.Errorf("a stream of %d messages times nothing", want)
	}
	if impl == GoChan {
		return chanStream(size, want)
	}
	a := streamArgs{Impl: impl, Size: size, Count: sent}
	var ln net.Listener
	switch impl {
	case Shmkit:
		p, err := ring.NewPipe(ring.Capacity(1 << 20))
		if err != nil {
			return 0, err
		}
		defer p.Close()
		a.Pipe = p
	case OSPipe, UnixSocket:
		dir, err := os.MkdirTemp("", "shmkit-bench-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		a.Addr = filepath.Join(dir, "s")
		if impl == OSPipe {
			err = mkfifo(a.Addr)
		} else {
			ln, err = net.Listen("unix", a.Addr)
		}
		if err != nil {
			return 0, err
		}
	case TCPLoopback:
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return 0, err
		}
		a.Addr = ln.Addr().String()
	}
	if ln != nil {
		defer ln.Close()
	}
	child, err := streamWriter.Start(ctx, a)
	if err != nil {
		return 0, err
	}
	a.Count = want
	rate, rerr := receive(ctx, a, ln)
	if rerr != nil {
		_ = child.Kill()
	}
	werr := child.WaitContext(ctx)
	return rate, errors.Join(rerr, werr)
}

func receive(ctx context.Context, a streamArgs, ln net.Listener) (float64, error) {
	var start time.Time
	if a.Impl == Shmkit {
		r, err := a.Pipe.Reader()
		if err != nil {
			return 0, err
		}
		defer r.Close()
		for i := range a.Count {
			msg, err := r.NextContext(ctx)
			if err != nil {
				return 0, fmt.Errorf("message %d: %w", i, err)
			}
			if i == 0 {
				start = time.Now()
			}
			if err := check(msg, i); err != nil {
				return 0, err
			}
		}
		return float64(a.Count-1) / time.Since(start).Seconds(), nil
	}
	var conn io.ReadCloser
	var err error
	if ln != nil {
		conn, err = ln.Accept()
	} else {
		conn, err = os.OpenFile(a.Addr, os.O_RDONLY, 0)
	}
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, kernelBatch)
	msg := make([]byte, a.Size)
	for i := range a.Count {
		if _, err := io.ReadFull(br, msg); err != nil {
			return 0, fmt.Errorf("message %d: %w", i, err)
		}
		if i == 0 {
			start = time.Now()
		}
		if err := check(msg, i); err != nil {
			return 0, err
		}
	}
	return float64(a.Count-1) / time.Since(start).Seconds(), nil
}

// chanStream is the in-process baseline: a buffered channel of message arrays.
func chanStream(size, count int) (float64, error) {
	switch size {
	case 64:
		return chanStreamOf[[64]byte](count)
	case 1024:
		return chanStreamOf[[1024]byte](count)
	}
	return 0, fmt.Errorf("no channel baseline for %d-byte messages", size)
}

func chanStreamOf[M any](count int) (float64, error) {
	ch := make(chan M, 1024)
	go func() {
		var m M
		b := bytesOfArray(&m)
		for i := range count {
			fill(b, i)
			ch <- m
		}
		close(ch)
	}()
	var start time.Time
	i := 0
	for m := range ch {
		if i == 0 {
			start = time.Now()
		}
		if err := check(bytesOfArray(&m), i); err != nil {
			return 0, err
		}
		i++
	}
	if i != count {
		return 0, fmt.Errorf("%d of %d messages", i, count)
	}
	return float64(count-1) / time.Since(start).Seconds(), nil
}

// bytesOfArray is the bytes of a message array.
func bytesOfArray[M any](m *M) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(m)), unsafe.Sizeof(*m))
}
