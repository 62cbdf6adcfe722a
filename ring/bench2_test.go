package ring_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

type echoArgs struct {
	In, Out *ring.Pipe
	Mode    ring.WaitMode
	N       int
}

// echo returns every record it reads on Out.
var echo = procs.Entry("ring.echo", func(ctx context.Context, a echoArgs) error {
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
	for range a.N {
		m, err := r.Next()
		if err != nil {
			return err
		}
		buf, err := w.Reserve(len(m))
		if err != nil {
			return err
		}
		copy(buf, m)
		if err := w.Commit(); err != nil {
			return err
		}
	}
	return nil
})

type rawArgs struct {
	Seg  *shm.Segment
	N    int
	Spin bool
	Msg  bool // carry a 64-byte message beside each word
}

// words returns the ping and pong words, a line pair apart, and the 64-byte message areas
// that follow each word, as a record's payload follows its header.
func words(s *shm.Segment) (ping, pong *uint32, pingMsg, pongMsg []byte) {
	b := s.Bytes()
	return (*uint32)(unsafe.Pointer(&b[0])), (*uint32)(unsafe.Pointer(&b[128])), b[8:72], b[136:200]
}

// await waits for *w == v: spinning, or sleeping on the futex at every change.
func await(w *uint32, v uint32, spin bool) {
	for {
		cur := atomic.LoadUint32(w)
		if cur == v {
			return
		}
		if !spin {
			_ = futex.Wait(w, cur, time.Time{})
		}
	}
}

// rawEcho answers N pings with bare shared-memory words: the floor under any ring.
var rawEcho = procs.Entry("ring.rawEcho", func(ctx context.Context, a rawArgs) error {
	ping, pong, pingMsg, pongMsg := words(a.Seg)
	for i := 1; i <= a.N; i++ {
		await(ping, uint32(i), a.Spin)
		if a.Msg {
			copy(pongMsg, pingMsg)
		}
		atomic.StoreUint32(pong, uint32(i))
		if !a.Spin {
			futex.Wake(pong, 1)
		}
	}
	return nil
})

// BenchmarkPingPong64 is a round trip of a 64-byte message between two processes through two
// pipes; ns/op is one round trip. Each mode stands beside its floor from the same run: spin
// beside two bare shared words polled by both sides; sleep beside the same words with a futex
// wake and wait on every hand-off, interleaved round by round with the pipe (both children
// sleep while the other one's round runs), so the machine's drift does not tilt the ratio.
func BenchmarkPingPong64(b *testing.B) {
	for _, c := range []struct {
		name string
		mode ring.WaitMode
	}{{"mode=spin/impl=shmkit-pipe", ring.Spin}, {"mode=spin-then-sleep/impl=shmkit-pipe", ring.SpinThenSleep}} {
		b.Run(c.name, func(b *testing.B) {
			round, done := pipePingPong(b, c.mode, b.N+1, false)
			timeRounds(b, round, done)
		})
	}
	b.Run("mode=spin/impl=raw-spin", func(b *testing.B) {
		round, done := rawPingPong(b, true, false, b.N+1)
		timeRounds(b, round, done)
	})
	b.Run("mode=spin/impl=raw-spin-64B", func(b *testing.B) {
		round, done := rawPingPong(b, true, true, b.N+1)
		timeRounds(b, round, done)
	})
	// The same sleeping round trip with the parent's wait made by ring.Wait (one futex_waitv on
	// the pipe's word and a bell) instead of the reader's own futex wait. The floor is the
	// platform's bare sleep and wake (rawSleep): a futex on Linux, an event on Windows.
	for _, viaWait := range []bool{false, true} {
		impl := "shmkit-pipe"
		if viaWait {
			impl = "shmkit-wait"
		}
		floor := rawSleepName
		b.Run("mode=sleep/impl="+impl+"+"+floor, func(b *testing.B) {
			pipe, pipeDone := pipePingPong(b, ring.Sleep, b.N+1, viaWait)
			raw, rawDone := rawSleep(b, b.N+1)
			pipe()
			raw()
			var tp, tr time.Duration
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				pipe()
				t1 := time.Now()
				raw()
				tp, tr = tp+t1.Sub(t0), tr+time.Since(t1)
			}
			b.StopTimer()
			pipeDone()
			rawDone()
			b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N), "shmkit-ns/roundtrip")
			b.ReportMetric(float64(tr.Nanoseconds())/float64(b.N), floor+"-ns/roundtrip")
			b.ReportMetric(float64(tp)/float64(tr), "ratio")
		})
	}
}

// timeRounds times b.N round trips after a first, untimed one that includes the child's start.
func timeRounds(b *testing.B, round, done func()) {
	round()
	b.ResetTimer()
	for range b.N {
		round()
	}
	b.StopTimer()
	done()
}

// pipePingPong starts an echo child on two pipes and returns one round trip and a wait for it;
// viaWait waits for the echo with ring.Wait before taking it.
func pipePingPong(b *testing.B, mode ring.WaitMode, rounds int, viaWait bool) (round, done func()) {
	ping, pong := newPipe(b, 1<<16), newPipe(b, 1<<16)
	w, _ := ping.Writer()
	r, _ := pong.Reader()
	w.SetWaitMode(mode)
	r.SetWaitMode(mode)
	child, err := echo.Start(b.Context(), echoArgs{In: ping, Out: pong, Mode: mode, N: rounds})
	if err != nil {
		b.Fatal(err)
	}
	round = func() {
		buf, err := w.Reserve(64)
		if err != nil {
			b.Fatal(err)
		}
		buf[0] = 1
		_ = w.Commit()
		if viaWait {
			if _, err := ring.Wait(b.Context(), r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
	return round, func() {
		if err := child.WaitContext(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// rawPingPong starts a rawEcho child and returns one round trip and a wait for it.
// With msg, each side's message travels too, touched as the pipe round touches it: this side
// writes its first byte, the child copies all 64 bytes across.
func rawPingPong(b *testing.B, spin, msg bool, rounds int) (round, done func()) {
	seg, err := shm.Anonymous(4096)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = seg.Close() })
	ping, pong, pingMsg, _ := words(seg)
	child, err := rawEcho.Start(b.Context(), rawArgs{Seg: seg, N: rounds, Spin: spin, Msg: msg})
	if err != nil {
		b.Fatal(err)
	}
	i := uint32(0)
	round = func() {
		i++
		if msg {
			pingMsg[0] = byte(i)
		}
		atomic.StoreUint32(ping, i)
		if !spin {
			futex.Wake(ping, 1)
		}
		await(pong, i, spin)
	}
	return round, func() {
		if err := child.WaitContext(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

type bigArgs struct {
	P    *ring.Pipe
	N    int
	Mode string // "touch": write the ends in place; "fill": write every byte in place; "send": copy in
}

const big = 1 << 20

var bigSource = make([]byte, big)

// produceBig writes N 1 MiB records.
var produceBig = procs.Entry("ring.produceBig", func(ctx context.Context, a bigArgs) error {
	w, err := a.P.Writer()
	if err != nil {
		return err
	}
	for i := range a.N {
		if a.Mode == "send" {
			if err := w.Send(bigSource); err != nil {
				return err
			}
			continue
		}
		buf, err := w.Reserve(big)
		if err != nil {
			return err
		}
		if a.Mode == "fill" {
			clear(buf)
		}
		buf[0], buf[big-1] = byte(i), byte(i)
		if err := w.Commit(); err != nil {
			return err
		}
	}
	return nil
})

// BenchmarkLarge moves 1 MiB messages from a child; MB/s is message bytes delivered. touch
// writes in place only the first and last byte (the transport's own cost: nothing is copied);
// fill writes every byte in place; send copies from a buffer (Send). memcpy, measured in the
// same run, copies 1 MiB within one process: into one buffer (hot in cache), and into
// successive MiBs of 8 MiB of heap or of a shared segment, as the 8 MiB ring's Send does.
func BenchmarkLarge(b *testing.B) {
	for _, mode := range []string{"touch", "fill", "send"} {
		b.Run("impl=shmkit-"+mode, func(b *testing.B) {
			p := newPipe(b, 8<<20)
			r, _ := p.Reader()
			child, err := produceBig.Start(b.Context(), bigArgs{P: p, N: b.N + 1, Mode: mode})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(big)
			b.ResetTimer()
			for range b.N {
				m, err := r.Next()
				if err != nil || len(m) != big || m[0] != m[big-1] {
					b.Fatal("bad message", err)
				}
			}
			b.StopTimer()
			if err := child.WaitContext(b.Context()); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("impl=memcpy-hot", func(b *testing.B) { // the same 1 MiB again and again: cache-resident
		dst := make([]byte, big)
		b.SetBytes(big)
		for b.Loop() {
			copy(dst, bigSource)
		}
	})
	b.Run("impl=memcpy-8MiB-heap", func(b *testing.B) { // into successive MiBs of 8, as Send does
		dst := make([]byte, 8*big)
		b.SetBytes(big)
		for i := 0; b.Loop(); i++ {
			copy(dst[(i%8)*big:], bigSource)
		}
	})
	b.Run("impl=memcpy-8MiB-segment", func(b *testing.B) { // the same into a shared segment
		seg, err := shm.Anonymous(8 * big)
		if err != nil {
			b.Fatal(err)
		}
		defer seg.Close()
		dst := seg.Bytes()
		b.SetBytes(big)
		for i := 0; b.Loop(); i++ {
			copy(dst[(i%8)*big:], bigSource)
		}
	})
}

type mpmcArgs struct {
	Q     *ring.Queue
	Ready *sem.SharedSemaphore // released once this process is up
	Go    *sem.Event
	N     int
	Put   bool
	Batch int // PutBatch and GetBatch of this many, if above 1
}

// mpmcPart puts N messages once Go is set, or gets until the queue closes (Batch at a time).
var mpmcPart = procs.Entry("ring.mpmcPart", func(ctx context.Context, a mpmcArgs) error {
	if err := a.Ready.Release(); err != nil {
		return err
	}
	if err := a.Go.WaitContext(ctx); err != nil {
		return err
	}
	var m [64]byte
	buf := make([]byte, 0, 64)
	if a.Batch > 1 {
		msgs := make([][]byte, a.Batch)
		for i := range msgs {
			msgs[i] = m[:]
		}
		var got [][]byte
		for i := 0; !a.Put || i < a.N; i += a.Batch {
			var err error
			if a.Put {
				_, err = a.Q.PutBatchContext(ctx, msgs[:min(a.Batch, a.N-i)])
			} else {
				got, err = a.Q.GetBatchContext(ctx, a.Batch, got[:0])
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; !a.Put || i < a.N; i++ {
		if a.Put {
			if err := a.Q.PutContext(ctx, m[:]); err != nil {
				return err
			}
			continue
		}
		if _, err := a.Q.GetContext(ctx, buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return nil
})

// mpmcShmkit runs BenchmarkMPMC64's shmkit side.
func mpmcShmkit(b *testing.B, batch int) {
	q := newQueue(b, 1024, 64)
	seg, err := shm.Anonymous(64)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	start, _ := sem.At[sem.Event](seg.Bytes(), 0)
	ready, err := sem.NewSemaphore(0)
	if err != nil {
		b.Fatal(err)
	}
	defer ready.Close()
	var parts []*procs.Process
	for i := range 4 {
		p, err := mpmcPart.Start(b.Context(), mpmcArgs{Q: q, Ready: ready, Go: start, N: (b.N + i/2) / 2, Put: i < 2, Batch: batch})
		if err != nil {
			b.Fatal(err)
		}
		parts = append(parts, p)
	}
	// This process puts one message too, so the consumers do not take the producers'
	// exits for the end before Close.
	if err := q.PutContext(b.Context(), make([]byte, 64)); err != nil {
		b.Fatal(err)
	}
	for range parts { // all four are up (starting one took up to 37 ms beside busy ones)
		if err := ready.AcquireContext(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	_ = start.Set()
	for _, p := range parts[:2] {
		if err := p.WaitContext(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	_ = q.Shutdown()
	for _, p := range parts[2:] {
		if err := p.WaitContext(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b)
}

// BenchmarkMPMC64: two producer processes and two consumer processes share one Queue of 64-byte
// messages; ns/op is per message. The baseline is a buffered channel with two sending and two
// receiving goroutines in one process. The batch variant puts and gets 32 messages a call
// (PutBatch, GetBatch: one claim of many slots).
func BenchmarkMPMC64(b *testing.B) {
	for _, batch := range []int{1, 32} {
		name := "impl=shmkit-queue-2x2-processes"
		if batch > 1 {
			name += fmt.Sprintf("-batch-%d", batch)
		}
		b.Run(name, func(b *testing.B) { mpmcShmkit(b, batch) })
	}
	b.Run("impl=go-chan-2x2-goroutines", func(b *testing.B) {
		ch := make(chan [64]byte, 1024)
		var prod, cons sync.WaitGroup
		for i := range 2 {
			prod.Go(func() {
				var m [64]byte
				for range (b.N + i) / 2 {
					ch <- m
				}
			})
			cons.Go(func() {
				for range ch {
				}
			})
		}
		prod.Wait()
		close(ch)
		cons.Wait()
		report(b)
	})
}
