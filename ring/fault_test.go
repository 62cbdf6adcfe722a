package ring_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

type lateArgs struct {
	P     *ring.Pipe
	Q     *ring.Queue
	Delay time.Duration
	Role  string // "writer", "reader" or "producer"
	Go    *sem.Event
}

// late sleeps Delay (or waits for Go), then takes its end of P (writing one record, or
// reading everything) or puts one message into Q.
var late = procs.Entry("ring.late", func(ctx context.Context, a lateArgs) error {
	time.Sleep(a.Delay)
	if a.Go != nil {
		if err := a.Go.WaitContext(ctx); err != nil {
			return err
		}
	}
	switch a.Role {
	case "writer":
		w, err := a.P.Writer()
		if err != nil {
			return err
		}
		return errors.Join(w.Send([]byte("x")), w.Close())
	case "reader":
		r, err := a.P.Reader()
		if err != nil {
			return err
		}
		for {
			if _, err := r.Recv(nil); err != nil {
				return nil
			}
		}
	case "producer":
		return a.Q.PutContext(ctx, []byte("late"))
	}
	return fmt.Errorf("no role %q", a.Role)
})

// B1: the only process that could write is killed at a random moment before (or after) it
// claims the writing end: the reader ends with ErrPeerGone (or the record and io.EOF), never
// waiting for ever. The same for a reader killed before it claims: the writer, once the pipe
// is full, gets ErrPeerGone.
func TestFaultPipeEndKilledBeforeClaim(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("named=%v", named), func(t *testing.T) {
			var gone, done int
			for i := range testmain.FaultRuns() {
				name, mk := "", ring.NewPipe
				if named {
					name = testmain.Name(t)
					mk = func(opts ...shm.Option) (*ring.Pipe, error) { return ring.CreatePipe(name, opts...) }
				}
				p, err := mk(ring.Capacity(4096))
				if err != nil {
					t.Fatal(err)
				}
				role := []string{"writer", "reader"}[i%2]
				child, err := late.Start(t.Context(), lateArgs{P: p, Role: role, Delay: time.Duration(rand.IntN(2000)) * time.Microsecond})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(rand.IntN(30000)) * time.Microsecond)
				_ = child.Kill()
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				if role == "writer" {
					err = readAll(ctx, p)
				} else {
					err = writeUntilStuck(ctx, p)
				}
				cancel()
				switch {
				case errors.Is(err, ring.ErrPeerGone):
					gone++
				case err == nil:
					done++
				default:
					t.Fatalf("iteration %d (%s killed): %v", i, role, err)
				}
				_ = child.JoinContext(t.Context())
				_ = p.Close()
				if named {
					_ = shm.Remove(name)
				}
			}
			t.Logf("%d ended by ErrPeerGone, %d by the peer finishing first", gone, done)
		})
	}
}

func readAll(ctx context.Context, p *ring.Pipe) error {
	r, err := p.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		if _, err := r.RecvContext(ctx, nil); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// writeUntilStuck writes until the pipe is full and the reader can take no more; a reader
// that ran to completion means a nil error.
func writeUntilStuck(ctx context.Context, p *ring.Pipe) error {
	w, err := p.Writer()
	if err != nil {
		return err
	}
	defer w.Close()
	for range 1 << 20 {
		if err := w.SendContext(ctx, make([]byte, 256)); err != nil {
			if errors.Is(err, ring.ErrClosed) { // the reader closed its end: it finished
				return nil
			}
			return err
		}
	}
	return errors.New("a dead reader took a million records")
}

// CPython's Queue(1): the second put blocks (here TryPut says no), nothing is overwritten, a
// get with a deadline ends at it; any capacity works, exactly.
func TestQueueOfOneAndExactCapacities(t *testing.T) {
	for _, capacity := range []int{1, 3, 5, 8} {
		q := newQueue(t, capacity, 8)
		if q.Cap() != capacity {
			t.Fatalf("Cap %d, want %d", q.Cap(), capacity)
		}
		for i := range capacity {
			if ok, err := q.TryPut([]byte{byte(i)}); !ok || err != nil {
				t.Fatalf("cap %d: put %d: %v %v", capacity, i, ok, err)
			}
		}
		if ok, err := q.TryPut([]byte{99}); ok || err != nil {
			t.Fatalf("cap %d: a put beyond the capacity: %v %v", capacity, ok, err)
		}
		for round := range 3 { // go round the slots a few times
			for i := range capacity {
				got, ok, err := q.TryGet(nil)
				if !ok || err != nil || got[0] != byte(i) {
					t.Fatalf("cap %d round %d: got %v %v %v, want %d", capacity, round, got, ok, err, i)
				}
				if ok, err := q.TryPut([]byte{byte(i)}); !ok || err != nil {
					t.Fatalf("cap %d round %d: refill %d: %v %v", capacity, round, i, ok, err)
				}
			}
		}
		for range capacity {
			if _, err := q.GetContext(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		start := time.Now()
		_, err := q.GetContext(ctx, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
			t.Fatalf("cap %d: Get on an empty queue with a 200 ms deadline: %v after %v", capacity, err, time.Since(start))
		}
	}
}

// A shut-down queue, drained: TryGet says so as Get does, instead of "empty".
func TestQueueTryGetOnClosedDrainedQueue(t *testing.T) {
	q := newQueue(t, 4, 8)
	if _, err := q.TryPut([]byte("last")); err != nil {
		t.Fatal(err)
	}
	if err := q.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if m, ok, err := q.TryGet(nil); !ok || err != nil || string(m) != "last" {
		t.Fatalf("draining: %q %v %v", m, ok, err)
	}
	if _, ok, err := q.TryGet(nil); ok || !errors.Is(err, io.EOF) {
		t.Fatalf("TryGet on a shut-down, drained queue: %v %v, want io.EOF", ok, err)
	}
}

// Producers that put and exit normally are not dead: a Get after them waits for its context
// (CPython's get(True, 0.1) raises Empty), since any process may still put. One that is
// killed after attaching and before putting anything is a death: ErrPeerGone.
func TestQueueProducersLeavingVersusDying(t *testing.T) {
	q := newQueue(t, 8, 8)
	testmain.WaitAll(t, testmain.StartN(t, late, 3, func(int) lateArgs { return lateArgs{Q: q, Role: "producer"} })...)
	for range 3 {
		if _, err := q.GetContext(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := q.GetContext(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get after the producers exited normally: %v, want the deadline", err)
	}
	p, err := late.Start(t.Context(), lateArgs{Q: q, Role: "producer", Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // attached, not yet put: alive, so Get waits
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := q.GetContext(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get while a producer is attached: %v, want the deadline", err)
	}
	_ = p.Kill()
	_ = p.JoinContext(t.Context())
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := q.GetContext(ctx, nil); !errors.Is(err, ring.ErrPeerGone) {
		t.Fatalf("Get after the only other process died: %v, want ErrPeerGone", err)
	}
}

// B2: more than 64 processes have produced; the ones recorded first die, one alive later
// still puts, and the consumer never mistakes it for gone.
func TestQueueManyProducers(t *testing.T) {
	const n = 70
	q := newQueue(t, 128, 8)
	seg, err := shm.Anonymous(64)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	goAgain, err := sem.At[sem.Event](seg.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ps := testmain.StartN(t, putTwice, n, func(int) putTwiceArgs { return putTwiceArgs{Q: q, Go: goAgain} })
	for range n {
		if _, err := q.GetContext(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ps[:n-1] { // every process but the last one dies
		_ = p.Kill()
		_ = p.JoinContext(t.Context())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := q.GetContext(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with one of %d producers alive: %v, want the deadline", n, err)
	}
	if err := goAgain.Set(); err != nil {
		t.Fatal(err)
	}
	if m, err := q.GetContext(t.Context(), nil); err != nil || string(m) != "again" {
		t.Fatalf("the last producer's second message: %q %v", m, err)
	}
	testmain.WaitAll(t, ps[n-1])
}

type putTwiceArgs struct {
	Q  *ring.Queue
	Go *sem.Event
}

// putTwice puts once, waits for Go, and puts again.
var putTwice = procs.Entry("ring.putTwice", func(ctx context.Context, a putTwiceArgs) error {
	if err := a.Q.PutContext(ctx, []byte("first")); err != nil {
		return err
	}
	if err := a.Go.WaitContext(ctx); err != nil {
		return err
	}
	return a.Q.PutContext(ctx, []byte("again"))
})

// The largest capacity the constants allow can be asked for: it fails for want of memory,
// not as an invalid size.
func TestMaxPipeCapacityIsReal(t *testing.T) {
	_, err := ring.NewPipe(ring.Capacity(ring.MaxPipeCapacity))
	if !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("NewPipe of MaxPipeCapacity: %v, want ErrNoSpace on a machine with less memory", err)
	}
	if _, err := ring.NewPipe(ring.Capacity(ring.MaxPipeCapacity * 2)); !errors.Is(err, ring.ErrInvalid) {
		t.Fatalf("twice MaxPipeCapacity: %v, want ErrInvalid", err)
	}
}

// One producer of two is killed at a random moment of a stream, and a consumer at a random
// moment of another: the survivors lose nothing of each other's, see no duplicate and no torn
// message, keep each producer's order, and end with ErrPeerGone, not a hang.
func TestFaultQueueEndKilled(t *testing.T) {
	for i := range testmain.FaultRuns() {
		q, err := ring.NewQueue(ring.Capacity(64), ring.SlotSize(8))
		if err != nil {
			t.Fatal(err)
		}
		batch := 8 * (i / 2 % 2) // every other run of each kind batches (PutBatch, GetBatch)
		if i%2 == 0 {            // a producer dies; the other finishes; the parent consumes
			a, err := putSeq.Start(t.Context(), mpArgs{Q: q, Producer: 0, N: 1 << 30, Batch: batch})
			if err != nil {
				t.Fatal(err)
			}
			b, err := putSeq.Start(t.Context(), mpArgs{Q: q, Producer: 1, N: 2000})
			if err != nil {
				t.Fatal(err)
			}
			next := [2]uint32{}
			kill := time.Now().Add(time.Duration(20_000+rand.IntN(20_000)) * time.Microsecond)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			var got [][]byte
			for {
				if !kill.IsZero() && time.Now().After(kill) {
					_ = a.Kill()
					kill = time.Time{}
				}
				got, err = q.GetBatchContext(ctx, max(batch, 1), got[:0])
				if errors.Is(err, ring.ErrPeerGone) && kill.IsZero() {
					break
				}
				if err != nil {
					t.Fatalf("iteration %d: %v", i, err)
				}
				for _, m := range got {
					p, s := binary.LittleEndian.Uint32(m), binary.LittleEndian.Uint32(m[4:])
					if len(m) != 8 || p > 1 || s != next[p] {
						t.Fatalf("iteration %d: got %d/%d (%d bytes), want %d next from producer %d", i, p, s, len(m), next[p], p)
					}
					next[p]++
				}
			}
			cancel()
			if next[1] != 2000 {
				t.Fatalf("iteration %d: %d of the live producer's 2000 messages", i, next[1])
			}
			testmain.WaitAll(t, b)
			_ = a.JoinContext(t.Context())
		} else { // the consumer dies; the parent produces until the queue stays full
			c, err := drainSlowly.Start(t.Context(), drainArgs{Q: q, Batch: batch})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rand.IntN(30_000)) * time.Microsecond)
			_ = c.Kill()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			msgs := make([][]byte, max(batch, 1))
			for k := range msgs {
				msgs[k] = []byte("12345678")
			}
			var err2 error
			for n := 0; err2 == nil && n < 1<<20; n++ {
				_, err2 = q.PutBatchContext(ctx, msgs)
			}
			cancel()
			if !errors.Is(err2, ring.ErrPeerGone) {
				t.Fatalf("iteration %d: producing to a dead consumer: %v", i, err2)
			}
			_ = c.JoinContext(t.Context())
		}
		_ = q.Close()
	}
}
