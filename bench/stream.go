package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
		name                       string
		size, count, batch, buffer int
	}{
		{"spsc_64B_throughput", 64, 8_000_000, 1, 0},
		{"spsc_64B_batch32_throughput", 64, 8_000_000, 32, 0},
		{"spsc_64B_buffered_throughput", 64, 8_000_000, 1, kernelBatch},
		{"spsc_1KiB_throughput", 1024, 2_000_000, 1, 0},
	} {
		c := c
		s := Scenario{Name: c.name, Unit: "msg/s", Higher: true, Note: note,
			Goal: "≥ 2x the best kernel baseline (issue 14)"}
		switch {
		case c.batch > 1:
			s.Note = fmt.Sprintf("as spsc_64B_throughput, but shmkit sends %d messages at a time with SendBatch (one publication); the kernel baselines batch as before, through their 64 KiB buffers", c.batch)
			s.Goal = "≥ 3x the best kernel baseline (issue 14)"
		case c.buffer > 0:
			s.Note = fmt.Sprintf("as spsc_64B_throughput, but shmkit's writer buffers as the kernel baselines' bufio.Writer does (Writer.SetBuffer(%d): its records are published %d bytes at a time, and at Close), writing them around the cache on amd64", c.buffer, c.buffer)
			s.Goal = "≥ 3x the best kernel baseline, buffered alike (issue 14's batched commit)"
		}
		for _, impl := range []string{Shmkit, GoChan, OSPipe, UnixSocket, TCPLoopback} {
			impl := impl
			s.Impls = append(s.Impls, Impl{Name: impl, Run: func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
				a := streamArgs{Impl: impl, Size: c.size, Count: o.scale(c.count), Batch: c.batch, Buffer: c.buffer}
				return streamN(ctx, a, o.scale(c.count), false)
			}})
		}
		if c.batch == 1 && c.buffer == 0 {
			s.Impls = append(s.Impls, boostStream(c.size, c.count), pyRate(c.count/cpythonFewer, "stream", itoa(c.size)))
		}
		out = append(out, s)
	}
	return out
}

type streamArgs struct {
	Impl   string
	Pipe   *ring.Pipe
	Link   link
	Size   int
	Count  int
	Batch  int // messages a SendBatch (shmkit); 0 or 1: Send each
	Buffer int // shmkit's Writer.SetBuffer
}

// streamWriter is the producer process: every message copied from its own buffer, through
// the ring or a kernel link (64 KiB bufio for messages smaller than that; bigger ones are
// written whole).
var streamWriter = procs.Entry("bench.streamWriter", func(ctx context.Context, a streamArgs) error {
	msg := make([]byte, a.Size)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	if a.Impl == Shmkit {
		w, err := a.Pipe.Writer()
		if err != nil {
			return err
		}
		if err := w.SetBuffer(a.Buffer); err != nil {
			return err
		}
		if a.Batch > 1 {
			msgs := make([][]byte, a.Batch)
			for j := range msgs {
				msgs[j] = bytes.Clone(msg)
			}
			for i := 0; i < a.Count; i += a.Batch {
				batch := msgs[:min(a.Batch, a.Count-i)]
				for j, m := range batch {
					fill(m, i+j)
				}
				if err := w.SendBatchContext(ctx, batch); err != nil {
					return err
				}
			}
			return w.Close()
		}
		for i := range a.Count {
			fill(msg, i)
			if err := w.SendContext(ctx, msg); err != nil {
				return err
			}
		}
		return w.Close()
	}
	conn, err := a.Link.dial()
	if err != nil {
		return err
	}
	var out io.Writer = conn
	bw := bufio.NewWriterSize(conn, kernelBatch)
	if a.Size < kernelBatch {
		out = bw
	}
	for i := range a.Count {
		fill(msg, i)
		if _, err := out.Write(msg); err != nil {
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

// streamN moves a.Count messages of a.Size bytes from a child to this process, which expects
// want (tests make them differ to see a run that moves too little fail), and returns the rate,
// timed over the stream's steady part (see receiveAll). shmkit's consumer reads each message
// where it lies in the ring, or with copyOut copies it into a buffer of its own, as a kernel
// read does.
func streamN(ctx context.Context, a streamArgs, want int, copyOut bool) (float64, error) {
	if want < 2 {
		return 0, fmt.Errorf("a stream of %d messages times nothing", want)
	}
	impl, size := a.Impl, a.Size
	if impl == GoChan {
		return chanStream(size, want)
	}
	var l *listener
	if impl == Shmkit {
		p, err := ring.NewPipe(ring.Capacity(max(1<<20, 8*size)))
		if err != nil {
			return 0, err
		}
		defer p.Close()
		a.Pipe = p
	} else {
		var err error
		if l, err = listen(impl, false); err != nil {
			return 0, err
		}
		defer l.Close()
		a.Link = l.link
	}
	child, err := streamWriter.Start(ctx, a)
	if err != nil {
		return 0, err
	}
	rate, rerr := receive(ctx, a, want, l, copyOut)
	if rerr != nil {
		_ = child.Kill()
	}
	return rate, errors.Join(rerr, child.WaitContext(ctx))
}

func receive(ctx context.Context, a streamArgs, want int, l *listener, copyOut bool) (float64, error) {
	buf := make([]byte, a.Size)
	if a.Impl == Shmkit {
		r, err := a.Pipe.Reader()
		if err != nil {
			return 0, err
		}
		defer r.Close()
		return receiveAll(want, a.Size, func() ([]byte, error) {
			if copyOut {
				return r.RecvContext(ctx, buf)
			}
			return r.NextContext(ctx)
		})
	}
	conn, err := l.accept()
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var in io.Reader = conn
	if a.Size < kernelBatch {
		in = bufio.NewReaderSize(conn, kernelBatch)
	}
	return receiveAll(want, a.Size, func() ([]byte, error) {
		_, err := io.ReadFull(in, buf)
		return buf, err
	})
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
	clock := steadyClock(count)
	i := 0
	for m := range ch {
		clock.arrived(i)
		if err := check(bytesOfArray(&m), i); err != nil {
			return 0, err
		}
		i++
	}
	if i != count {
		return 0, fmt.Errorf("%d of %d messages", i, count)
	}
	return clock.rate(), nil
}

// bytesOfArray is the bytes of a message array.
func bytesOfArray[M any](m *M) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(m)), unsafe.Sizeof(*m))
}
