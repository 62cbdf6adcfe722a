package ring_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/shm"
)

func newQueue(t testing.TB, slots, size int) *ring.Queue {
	t.Helper()
	q, err := ring.CreateQueue(testmain.Name(t), ring.Capacity(slots), ring.SlotSize(size))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

type mpArgs struct {
	Q        *ring.Queue
	Seen     *shm.Segment // one bit per message: producer*N + seq
	Producer int
	N        int
	Batch    int // PutBatch and GetBatch of this many, if above 1
}

// marker is the producer number of the parent's one message: the parent puts it so that it
// counts among the producers, and consumers do not take the workers' exits for the end.
const marker = 1 << 20

// putSeq puts N messages (producer, seq), Batch at a time.
var putSeq = procs.Entry("ring.putSeq", func(ctx context.Context, a mpArgs) error {
	batch := make([][]byte, max(a.Batch, 1))
	for i := range batch {
		batch[i] = binary.LittleEndian.AppendUint32(nil, uint32(a.Producer))
	}
	for i := 0; i < a.N; i += len(batch) {
		msgs := batch[:min(len(batch), a.N-i)]
		for k, m := range msgs {
			msgs[k] = binary.LittleEndian.AppendUint32(m[:4], uint32(i+k))
		}
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		n, err := len(msgs), error(nil)
		if a.Batch > 1 {
			n, err = a.Q.PutBatchContext(pctx, msgs)
		} else {
			err = a.Q.PutContext(pctx, msgs[0]) // the single-message path
		}
		cancel()
		if err != nil || n != len(msgs) {
			return fmt.Errorf("put %d: %d of %d: %w: %v", i, n, len(msgs), err, a.Q)
		}
	}
	return nil
})

// getSeq takes messages (Batch at a time) until the queue closes, checking per-producer order
// and marking each message's bit, failing on a duplicate.
var getSeq = procs.Entry("ring.getSeq", func(ctx context.Context, a mpArgs) error {
	last := map[uint32]int64{}
	bits := a.Seen.Bytes()
	var got [][]byte
	for {
		gctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		var err error
		if a.Batch > 1 {
			got, err = a.Q.GetBatchContext(gctx, a.Batch, got[:0])
		} else { // the single-message path
			var m []byte
			if m, err = a.Q.GetContext(gctx, spareOf(got)); err == nil {
				got = append(got[:0], m)
			}
		}
		cancel()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", err, a.Q)
		}
		for _, m := range got {
			if len(m) != 8 {
				return fmt.Errorf("a message of %d bytes", len(m))
			}
			p, s := binary.LittleEndian.Uint32(m), binary.LittleEndian.Uint32(m[4:])
			if p == marker {
				continue
			}
			if prev, ok := last[p]; ok && int64(s) <= prev {
				return fmt.Errorf("producer %d: %d after %d", p, s, prev)
			}
			last[p] = int64(s)
			bit := uint64(p)*uint64(a.N) + uint64(s)
			w := (*uint32)(unsafe.Pointer(&bits[bit/32*4]))
			if atomic.OrUint32(w, 1<<(bit%32))&(1<<(bit%32)) != 0 {
				return fmt.Errorf("message %d/%d delivered twice", p, s)
			}
		}
	}
})

// spareOf returns the first message's storage, for the next Get to reuse.
func spareOf(got [][]byte) []byte {
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

// TestQueueManyProducersManyConsumers: 4 producer and 2 consumer processes move 1 M messages
// each through a queue of 1024, one at a time, and again with half of each side batching
// (PutBatch and GetBatch of 32, claims of many slots with one compare-and-swap, beside single
// puts and gets): every message arrives once, in each producer's order.
func TestQueueManyProducersManyConsumers(t *testing.T) {
	for _, batch := range []int{1, 32} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) { manyProducersManyConsumers(t, batch) })
	}
}

func manyProducersManyConsumers(t *testing.T, batch int) {
	const producers, consumers = 4, 2
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	q := newQueue(t, 1024, 8)
	seen, err := shm.Anonymous(producers * n / 8)
	if err != nil {
		t.Fatal(err)
	}
	defer seen.Close()
	var m [8]byte
	binary.LittleEndian.PutUint32(m[:], marker)
	if err := q.PutContext(t.Context(), m[:]); err != nil {
		t.Fatal(err)
	}
	gets := testmain.StartN(t, getSeq, consumers, func(i int) mpArgs { return mpArgs{Q: q, Seen: seen, N: n, Batch: batch * (i % 2)} })
	puts := testmain.StartN(t, putSeq, producers, func(i int) mpArgs { return mpArgs{Q: q, Producer: i, N: n, Batch: batch * (i % 2)} })
	testmain.WaitAll(t, puts...)
	if err := q.Shutdown(); err != nil {
		t.Fatal(err)
	}
	testmain.WaitAll(t, gets...)
	for i, b := range seen.Bytes() {
		if b != 0xff {
			t.Fatalf("messages %d to %d: bits %08b, some never delivered", i*8, i*8+7, b)
		}
	}
}

func TestQueueProducerKilledMidStream(t *testing.T) {
	q := newQueue(t, 64, 8)
	const n = 1 << 30 // until killed
	a, err := putSeq.Start(t.Context(), mpArgs{Q: q, Producer: 0, N: n})
	if err != nil {
		t.Fatal(err)
	}
	b, err := putSeq.Start(t.Context(), mpArgs{Q: q, Producer: 1, N: 5000})
	if err != nil {
		t.Fatal(err)
	}
	next := [2]uint32{}
	get := func(ctx context.Context) error {
		m, err := q.GetContext(ctx, nil)
		if err != nil {
			return err
		}
		p, s := binary.LittleEndian.Uint32(m), binary.LittleEndian.Uint32(m[4:])
		if p > 1 || s != next[p] {
			return fmt.Errorf("got %d/%d, want %d next from producer %d", p, s, next[p], p)
		}
		next[p]++
		return nil
	}
	for next[0] < 1000 {
		if err := get(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Kill()
	_ = a.JoinContext(t.Context())
	start := time.Now()
	var err2 error
	for err2 == nil {
		err2 = get(t.Context())
	}
	if !errors.Is(err2, ring.ErrPeerGone) {
		t.Fatalf("after the producers ended: %v, want ErrPeerGone", err2)
	}
	if next[1] != 5000 {
		t.Fatalf("got %d of the live producer's 5000 messages", next[1])
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	if err := b.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

type drainArgs struct {
	Q     *ring.Queue
	Batch int // GetBatch of this many
}

var drainSlowly = procs.Entry("ring.drainSlowly", func(ctx context.Context, a drainArgs) error {
	var got [][]byte
	for {
		var err error
		if got, err = a.Q.GetBatchContext(ctx, max(a.Batch, 1), got[:0]); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
})

func TestQueueConsumerKilled(t *testing.T) {
	q := newQueue(t, 16, 8)
	c, err := drainSlowly.Start(t.Context(), drainArgs{Q: q})
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		if err := q.PutContext(t.Context(), []byte("12345678")); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Kill()
	_ = c.JoinContext(t.Context())
	start := time.Now()
	var err2 error
	for i := 0; i < 100 && err2 == nil; i++ {
		err2 = q.PutContext(t.Context(), []byte("12345678"))
	}
	if !errors.Is(err2, ring.ErrPeerGone) {
		t.Fatalf("Put into a queue whose consumer died: %v", err2)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestQueueCloseAndTimeouts(t *testing.T) {
	q := newQueue(t, 4, 16)
	ctx, cancel := context.WithTimeout(t.Context(), 80*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := q.GetContext(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on empty: %v", err)
	}
	for i := range 4 {
		if ok, err := q.TryPut([]byte{byte(i)}); !ok || err != nil {
			t.Fatalf("TryPut %d: %v %v", i, ok, err)
		}
	}
	if ok, err := q.TryPut([]byte{9}); ok || err != nil {
		t.Fatalf("TryPut into a full queue: %v %v", ok, err)
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 80*time.Millisecond)
	defer cancel2()
	if err := q.PutContext(ctx2, []byte{9}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put on full: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("two 80 ms timeouts took %v", d)
	}
	if q.Len() != 4 || q.Cap() != 4 {
		t.Fatalf("Len %d Cap %d", q.Len(), q.Cap())
	}
	if err := q.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := q.PutContext(t.Context(), []byte{1}); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	got, err := q.GetBatchContext(t.Context(), 10, nil)
	if err != nil || len(got) != 4 || got[3][0] != 3 {
		t.Fatalf("draining a closed queue: %v %v", got, err)
	}
	if _, err := q.GetContext(t.Context(), nil); !errors.Is(err, io.EOF) {
		t.Fatalf("Get on a shut-down, drained queue: %v, want io.EOF", err)
	}
	if err := q.Shutdown(); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestQueueBadInput(t *testing.T) {
	for _, c := range [][2]int{{0, 8}, {-1, 8}, {8, 0}, {8, -1}, {1<<30 + 1, 8}} {
		if _, err := ring.CreateQueue(testmain.Name(t), ring.Capacity(c[0]), ring.SlotSize(c[1])); !errors.Is(err, ring.ErrInvalid) {
			t.Errorf("NewQueue(%d, %d): %v", c[0], c[1], err)
		}
	}
	q := newQueue(t, 8, 4)
	if err := q.PutContext(t.Context(), []byte("12345")); !errors.Is(err, ring.ErrTooLarge) {
		t.Errorf("5 bytes into 4-byte slots: %v", err)
	}
	if q.Len() != 0 {
		t.Error("a refused message was queued")
	}
	if n, err := q.PutBatch([][]byte{[]byte("ab"), []byte("cd"), []byte("12345"), []byte("ef")}); n != 2 || !errors.Is(err, ring.ErrTooLarge) {
		t.Errorf("a batch with a 5-byte message third: %d put, %v", n, err)
	}
	if got, err := q.GetBatch(8, nil); err != nil || len(got) != 2 || string(got[0]) != "ab" || string(got[1]) != "cd" {
		t.Errorf("what the batch put before its bad message: %q, %v", got, err)
	}
	if _, err := ring.NewQueueOf[struct{ C chan int }](ring.Capacity(8)); !errors.Is(err, ring.ErrInvalid) || !strings.Contains(err.Error(), ".C") {
		t.Errorf("QueueOf a type with a channel: %v", err)
	}
	// A type with an int is not plain (its size depends on GOARCH): it travels encoded.
	iq, err := ring.NewQueueOf[struct{ N int }](ring.Capacity(8), ring.SlotSize(16))
	if err != nil {
		t.Fatal(err)
	}
	if err := iq.Put(struct{ N int }{-5}); err != nil {
		t.Fatal(err)
	}
	if v, err := iq.Get(); err != nil || v.N != -5 {
		t.Errorf("an encoded int: %v %v", v, err)
	}
	_ = iq.Close()
	fq, err := ring.CreateQueueOf[float64](testmain.Name(t), ring.Capacity(8))
	if err != nil {
		t.Fatal(err)
	}
	defer fq.Queue().Close()
	if _, err := ring.AsQueueOf[int64](fq.Queue()); !errors.Is(err, ring.ErrInvalid) {
		t.Errorf("a float64 queue viewed as int64: %v, want ErrInvalid", err)
	}
	if _, err := ring.AsQueueOf[float64](fq.Queue()); err != nil {
		t.Errorf("a float64 queue viewed as float64: %v", err)
	}
	if _, err := ring.OpenJoinableQueue(q.Segment().Name()); !errors.Is(err, ring.ErrInvalid) {
		t.Errorf("a plain queue opened as joinable: %v", err)
	}
	p := newPipe(t, 256)
	if _, err := ring.OpenQueue(p.Segment().Name()); !errors.Is(err, shm.ErrKind) {
		t.Errorf("a pipe opened as a queue: %v", err)
	}
}

type point3 struct{ X, Y, Z float64 }

type workArgs struct {
	Tasks *ring.JoinableQueue
	Out   *ring.QueueOf[point3]
}

// work takes tasks, answers each on Out, and marks it done.
var work = procs.Entry("ring.work", func(ctx context.Context, a workArgs) error {
	for {
		m, err := a.Tasks.GetContext(ctx, nil)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		x := float64(m[0])
		if err := a.Out.PutContext(ctx, point3{x, x * x, -x}); err != nil {
			return err
		}
		if err := a.Tasks.TaskDone(); err != nil {
			return err
		}
	}
})

func TestJoinableAndTypedQueuesAcrossProcesses(t *testing.T) {
	tasks, err := ring.CreateJoinableQueue(testmain.Name(t), ring.Capacity(8), ring.SlotSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer tasks.Close()
	out, err := ring.NewQueueOf[point3](ring.Capacity(256))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Queue().Close()
	w, err := work.Start(t.Context(), workArgs{Tasks: tasks, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := tasks.PutContext(t.Context(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tasks.JoinContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if tasks.Unfinished() != 0 || out.Queue().Len() != 100 {
		t.Fatalf("after Join: %d unfinished, %d answers", tasks.Unfinished(), out.Queue().Len())
	}
	sum := 0.0
	for range 100 {
		p, err := out.GetContext(t.Context())
		if err != nil || p.Y != p.X*p.X || p.Z != -p.X {
			t.Fatalf("%+v %v", p, err)
		}
		sum += p.X
	}
	if sum != 4950 {
		t.Fatalf("answers sum to %v", sum)
	}
	if err := tasks.TaskDone(); !errors.Is(err, ring.ErrInvalid) {
		t.Fatalf("TaskDone beyond Put: %v", err)
	}
	_ = tasks.Shutdown()
	if err := w.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

type idleQueueArgs struct {
	Name  string
	Extra int // more attachments of the queue, to crowd it
	For   time.Duration
}

// idleQueue blocks a Get on the empty queue, then a Put on the full one, each for For, and
// fails if either wait cost more than a tenth of its time in CPU.
var idleQueue = procs.Entry("ring.idleQueue", func(ctx context.Context, a idleQueueArgs) error {
	q, err := ring.OpenQueue(a.Name)
	if err != nil {
		return err
	}
	defer q.Close()
	for range a.Extra {
		o, err := ring.OpenQueue(a.Name)
		if err != nil {
			return err
		}
		defer o.Close()
	}
	if err := testmain.BlockedCheaply(ctx, "Queue.GetContext", a.For, func(ctx context.Context) error {
		_, err := q.GetContext(ctx, nil)
		return err
	}); err != nil {
		return err
	}
	for q.Len() < q.Cap() {
		if err := q.Put([]byte{1}); err != nil {
			return err
		}
	}
	return testmain.BlockedCheaply(ctx, "Queue.PutContext", a.For, func(ctx context.Context) error {
		return q.PutContext(ctx, []byte{1})
	})
})

// A blocked Get or Put sleeps, whether the queue is crowded (more processes attached than
// CPUs: waits yield the CPU before they sleep) or not (they spin within the budget).
func TestQueueBlockedEndUsesNoCPU(t *testing.T) {
	for _, extra := range []int{0, runtime.NumCPU() + 1} {
		q := newQueue(t, 16, 8)
		child, err := idleQueue.Start(t.Context(), idleQueueArgs{Name: q.Name(), Extra: extra, For: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := child.WaitContext(t.Context()); err != nil {
			t.Fatalf("%d more attachments: %v", extra, err)
		}
	}
}
