package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/shm"
)

func init() { groups = append(groups, pingpongScenarios) }

func pingpongScenarios() []Scenario {
	note := "a message goes to a child process and back, one round at a time; each round trip is a sample. shmkit: a pipe each way (spinning ends for _spin, sleeping ends for _block, the adaptive default for 64 KiB); kernel baselines: a write and a read each way, no buffering; go-chan: two goroutines of one process over unbuffered channels; boost: two Boost.Interprocess message_queues to a forked child (blocking: not in the spinning scenario); cpython: a multiprocessing.Pipe, a twentieth of the rounds"
	kernels := []string{GoChan, OSPipe, UnixSocket, TCPLoopback}
	var out []Scenario
	for _, c := range []struct {
		name  string
		size  int
		mode  ring.WaitMode
		count int
		goal  string
	}{
		{"pingpong_64B_rtt_spin", 64, ring.Spin, 200_000, "within 1.2x floor_spin_rtt"},
		{"pingpong_64B_rtt_block", 64, ring.Sleep, 50_000, "within 1.5x floor_futex_rtt"},
		{"pingpong_64KiB_rtt", 64 << 10, ring.SpinThenSleep, 20_000, "below every kernel baseline"},
	} {
		c := c
		s := Scenario{Name: c.name, Unit: "ns", Goal: c.goal, Note: note}
		for _, impl := range append([]string{Shmkit}, kernels...) {
			impl := impl
			s.Impls = append(s.Impls, Impl{Name: impl, Run: func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
				return 0, pingpong(ctx, impl, c.size, c.mode, o.scale(c.count), h)
			}})
		}
		if c.mode != ring.Spin { // a message_queue and a Connection always sleep
			s.Impls = append(s.Impls, boostPingPong(c.size, c.count), pyLatency(c.count/cpythonFewer, "pingpong", itoa(c.size)))
		}
		out = append(out, s)
	}
	out = append(out,
		Scenario{Name: "floor_spin_rtt", Unit: "ns", Goal: "the floor: two processes spinning on two words of shared memory",
			Impls: []Impl{{Name: Floor, Run: func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
				return 0, wordPingPong(ctx, false, o.scale(200_000), h)
			}}}},
		Scenario{Name: "floor_futex_rtt", Unit: "ns", Goal: "the floor: two processes waking each other with futex, nothing else",
			Impls: []Impl{{Name: Floor, Run: func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
				return 0, wordPingPong(ctx, true, o.scale(50_000), h)
			}}}},
	)
	return out
}

type echoArgs struct {
	Impl    string
	In, Out *ring.Pipe // the child reads In, writes Out
	Link    link
	Size    int
	Count   int
	Mode    ring.WaitMode
}

// echoer is the child of a ping-pong: it sends back every message it gets.
var echoer = procs.Entry("bench.echoer", func(ctx context.Context, a echoArgs) error {
	if a.Impl == Shmkit {
		r, err := a.In.Reader()
		if err != nil {
			return err
		}
		w, err := a.Out.Writer()
		if err != nil {
			return err
		}
		r.SetWaitMode(a.Mode)
		w.SetWaitMode(a.Mode)
		for range a.Count {
			msg, err := r.NextContext(ctx)
			if err != nil {
				return err
			}
			if err := w.SendContext(ctx, msg); err != nil {
				return err
			}
		}
		return errors.Join(w.Close(), r.Close())
	}
	rw, err := a.Link.dial()
	if err != nil {
		return err
	}
	defer rw.Close()
	msg := make([]byte, a.Size)
	for range a.Count {
		if _, err := io.ReadFull(rw, msg); err != nil {
			return err
		}
		if _, err := rw.Write(msg); err != nil {
			return err
		}
	}
	return nil
})

// pingpong times count round trips of size-byte messages through impl.
func pingpong(ctx context.Context, impl string, size int, mode ring.WaitMode, count int, h *hdrhistogram.Histogram) error {
	if impl == GoChan {
		return chanPingPong(size, count, h)
	}
	a := echoArgs{Impl: impl, Size: size, Count: count, Mode: mode}
	var l *listener
	if impl == Shmkit {
		capacity := 1 << 16
		for capacity < 4*(size+64) {
			capacity <<= 1
		}
		in, err := ring.NewPipe(ring.Capacity(capacity))
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := ring.NewPipe(ring.Capacity(capacity))
		if err != nil {
			return err
		}
		defer out.Close()
		a.In, a.Out = in, out
	} else {
		var err error
		if l, err = listen(impl, true); err != nil {
			return err
		}
		defer l.Close()
		a.Link = l.link
	}
	child, err := echoer.Start(ctx, a)
	if err != nil {
		return err
	}
	perr := ping(ctx, a, l, h)
	if perr != nil {
		_ = child.Kill()
	}
	return errors.Join(perr, child.WaitContext(ctx))
}

func ping(ctx context.Context, a echoArgs, l *listener, h *hdrhistogram.Histogram) error {
	if a.Impl == Shmkit {
		w, err := a.In.Writer()
		if err != nil {
			return err
		}
		defer w.Close()
		r, err := a.Out.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		w.SetWaitMode(a.Mode)
		r.SetWaitMode(a.Mode)
		return timeRounds(a.Size, a.Count, h, func(msg []byte) ([]byte, error) {
			if err := w.SendContext(ctx, msg); err != nil {
				return nil, err
			}
			return r.NextContext(ctx)
		})
	}
	rw, err := l.accept()
	if err != nil {
		return err
	}
	defer rw.Close()
	back := make([]byte, a.Size)
	return timeRounds(a.Size, a.Count, h, func(msg []byte) ([]byte, error) {
		if _, err := rw.Write(msg); err != nil {
			return nil, err
		}
		_, err := io.ReadFull(rw, back)
		return back, err
	})
}

// timeRounds runs count round trips: trip sends message i (of size bytes) and returns what
// came back, which is checked. Each round trip is a sample in h, but for the first tenth (at
// most 1000), a warm-up.
func timeRounds(size, count int, h *hdrhistogram.Histogram, trip func(msg []byte) ([]byte, error)) error {
	msg := make([]byte, size)
	warm := min(count/10, 1000)
	for i := range count {
		fill(msg, i)
		t := tick()
		back, err := trip(msg)
		d := since(t)
		if err != nil {
			return fmt.Errorf("round trip %d: %w", i, err)
		}
		if err := check(back, i); err != nil {
			return err
		}
		if i >= warm {
			_ = h.RecordValue(d.Nanoseconds())
		}
	}
	return nil
}

func chanPingPong(size, count int, h *hdrhistogram.Histogram) error {
	there, back := make(chan []byte), make(chan []byte)
	go func() {
		buf := make([]byte, size)
		for m := range there {
			copy(buf, m) // a copy each way, as every other implementation makes
			back <- buf
		}
		close(back)
	}()
	err := timeRounds(size, count, h, func(msg []byte) ([]byte, error) {
		there <- msg
		return <-back, nil
	})
	close(there)
	<-back
	return err
}

type wordArgs struct {
	Seg   *shm.Segment
	Futex bool
	Count int
}

// words are the ping and pong words, 256 bytes apart: not in one line, nor in the pair of
// lines a spatial prefetcher fetches together.
func words(seg *shm.Segment) (ping, pong *uint64) {
	b := seg.Bytes()
	return (*uint64)(unsafe.Pointer(&b[0])), (*uint64)(unsafe.Pointer(&b[256]))
}

// low is the futex word of w: its low half (the platforms shmkit runs on are little-endian).
func low(w *uint64) *uint32 { return (*uint32)(unsafe.Pointer(w)) }

// wordEcho answers each ping with a pong: the floor's child. Stores are plain release stores
// (fence.Store64), as a ring's publish is: the floor is what the hardware allows, not what a
// locked instruction costs.
var wordEcho = procs.Entry("bench.wordEcho", func(ctx context.Context, a wordArgs) error {
	ping, pong := words(a.Seg)
	for i := uint64(1); i <= uint64(a.Count); i++ {
		for atomic.LoadUint64(ping) != i {
			if a.Futex {
				_ = futex.Wait(low(ping), uint32(i-1), time.Now().Add(time.Second))
			}
		}
		fence.Store64(pong, i)
		if a.Futex {
			futex.Wake(low(pong), 1)
		}
	}
	return nil
})

// wordPingPong is the floor of a round trip between two processes: a word stored and the
// other read, spinning, or with a futex wait and wake each way.
func wordPingPong(ctx context.Context, useFutex bool, count int, h *hdrhistogram.Histogram) error {
	seg, err := shm.Anonymous(512)
	if err != nil {
		return err
	}
	defer seg.Close()
	child, err := wordEcho.Start(ctx, wordArgs{Seg: seg, Futex: useFutex, Count: count})
	if err != nil {
		return err
	}
	ping, pong := words(seg)
	warm := min(count/10, 1000)
	deadline := time.Now().Add(time.Minute)
	for i := uint64(1); i <= uint64(count); i++ {
		t := tick()
		fence.Store64(ping, i)
		if useFutex {
			futex.Wake(low(ping), 1)
		}
		for spins := 0; atomic.LoadUint64(pong) != i; spins++ {
			if useFutex {
				_ = futex.Wait(low(pong), uint32(i-1), time.Now().Add(time.Second))
			}
			if spins&0xfff == 0xfff && (!child.Alive() || time.Now().After(deadline)) {
				_ = child.Kill()
				return errors.Join(fmt.Errorf("the echo stopped at round %d", i), child.Wait())
			}
		}
		if d := since(t); int(i) > warm {
			_ = h.RecordValue(d.Nanoseconds())
		}
	}
	return child.WaitContext(ctx)
}
