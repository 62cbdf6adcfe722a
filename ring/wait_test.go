package ring_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
)

type senderArgs struct {
	Pipe  *ring.Pipe  // send on it when set
	Queue *ring.Queue // else put into it
	ID, N int
	Hold  bool // send one record, then hold the writing end until killed
}

// sender sends N records "ID, i" with a short pause before each, then ends the stream (a
// queue's producer just leaves); with Hold it sends one record and holds the writing end.
var sender = procs.Entry("ring.sender", func(ctx context.Context, a senderArgs) error {
	var send func([]byte) error
	if a.Pipe != nil {
		w, err := a.Pipe.Writer()
		if err != nil {
			return err
		}
		defer w.Close()
		if a.Hold {
			if err := w.Send([]byte("claimed")); err != nil {
				return err
			}
			<-ctx.Done()
			return nil
		}
		send = func(b []byte) error { return w.SendContext(ctx, b) }
	} else {
		send = func(b []byte) error { return a.Queue.PutContext(ctx, b) }
	}
	for i := range a.N {
		time.Sleep(time.Duration(1+(a.ID*7+i)%3) * time.Millisecond)
		if err := send(binary.LittleEndian.AppendUint32([]byte{byte(a.ID)}, uint32(i))); err != nil {
			return err
		}
	}
	return nil
})

// readingEnd makes an anonymous pipe, closed when the test ends, and takes its reading end.
func readingEnd(t *testing.T) (*ring.Pipe, *ring.Reader) {
	t.Helper()
	p, err := ring.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

// TestWait is CPython's test_wait: several children send on their own pipes (and one puts into
// a queue), and the parent takes from whichever end Wait says is ready until every stream has
// ended; each end's records arrive whole, once, in order. A child that sends nothing is
// watched through its Done.
func TestWait(t *testing.T) {
	const senders, n = 4, 40
	var ends []ring.Waitable
	readers := map[ring.Waitable]int{}
	for id := range senders {
		p, r := readingEnd(t)
		if _, err := sender.Start(t.Context(), senderArgs{Pipe: p, ID: id, N: n}); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, r)
		readers[r] = id
	}
	q, err := ring.NewQueue(ring.Capacity(8))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := sender.Start(t.Context(), senderArgs{Queue: q, ID: senders, N: n}); err != nil {
		t.Fatal(err)
	}
	idle, err := sender.Start(t.Context(), senderArgs{Queue: q, ID: senders + 1})
	if err != nil {
		t.Fatal(err)
	}
	ends = append(ends, q, ring.Done(idle.Done()))

	next := make([]int, senders+1)
	check := func(msg []byte) {
		t.Helper()
		if len(msg) != 5 || int(msg[0]) > senders {
			t.Fatalf("a record of %d bytes: %x", len(msg), msg)
		}
		id, i := int(msg[0]), int(binary.LittleEndian.Uint32(msg[1:]))
		if i != next[id] {
			t.Fatalf("sender %d: record %d, want %d", id, i, next[id])
		}
		next[id]++
	}
	idleDone := false
	for len(ends) > 0 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		ready, err := ring.Wait(ctx, ends...)
		cancel()
		if err != nil || len(ready) == 0 {
			t.Fatalf("Wait with %d ends left: %v, %d ready", len(ends), err, len(ready))
		}
		for _, end := range ready {
			switch end {
			case ring.Done(idle.Done()):
				idleDone = true
				ends = slices.DeleteFunc(ends, func(e ring.Waitable) bool { return e == end })
			case q:
				msg, ok, err := q.TryGet(nil)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					check(msg)
				}
				if next[senders] == n {
					ends = slices.DeleteFunc(ends, func(e ring.Waitable) bool { return e == end })
				}
			default:
				r := end.(*ring.Reader)
				msg, err := r.Recv(nil)
				if errors.Is(err, io.EOF) {
					ends = slices.DeleteFunc(ends, func(e ring.Waitable) bool { return e == end })
					continue
				}
				if err != nil {
					t.Fatalf("sender %d: %v", readers[r], err)
				}
				check(msg)
			}
		}
	}
	for id, got := range next {
		if got != n {
			t.Errorf("sender %d: %d records, want %d", id, got, n)
		}
	}
	if !idleDone {
		t.Error("the idle child's Done never came up ready")
	}
	if err := procs.JoinAllContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestWaitTimeout is CPython's test_wait_timeout and test_neg_timeout: nothing ready is the
// context's error once its deadline passes (at once for a deadline already passed), and what
// is ready is returned without the rest; bad input is ErrInvalid.
func TestWaitTimeout(t *testing.T) {
	p, r := readingEnd(t)
	w, err := p.Writer()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ring.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()

	const d = 100 * time.Millisecond
	start := time.Now() // before the deadline is set: it is d after the context is made
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	ready, err := ring.Wait(ctx, r, q)
	if !errors.Is(err, context.DeadlineExceeded) || ready != nil {
		t.Fatalf("Wait on nothing: %v, %v", ready, err)
	}
	if waited := time.Since(start); waited < d || waited > d+time.Second {
		t.Fatalf("Wait with a %v deadline returned after %v", d, waited)
	}
	passed, cancel := context.WithTimeout(t.Context(), -time.Second)
	defer cancel()
	start = time.Now()
	if _, err := ring.Wait(passed, r, q); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > d {
		t.Fatalf("Wait with a deadline passed: %v after %v", err, time.Since(start))
	}

	if err := q.Put([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if ready, err := ring.Wait(t.Context(), r, q); err != nil || len(ready) != 1 || ready[0] != q {
		t.Fatalf("Wait with the queue ready: %v, %v", ready, err)
	}
	if !q.Ready() || q.Len() != 1 {
		t.Fatal("Wait took the queue's message")
	}
	if err := w.Send([]byte("r")); err != nil {
		t.Fatal(err)
	}
	if ready, err := ring.Wait(t.Context(), r, q); err != nil || len(ready) != 2 || ready[0] != r || ready[1] != q {
		t.Fatalf("Wait with both ready: %v, %v", ready, err)
	}
	if msg, err := r.Recv(nil); err != nil || string(msg) != "r" {
		t.Fatalf("the record Wait saw: %q, %v", msg, err)
	}

	var nilReader *ring.Reader
	for _, bad := range [][]ring.Waitable{nil, {nil}, {r, nilReader}, {ring.Done(nil)}} {
		if _, err := ring.Wait(t.Context(), bad...); !errors.Is(err, ring.ErrInvalid) {
			t.Errorf("Wait(%v): %v, want ErrInvalid", bad, err)
		}
	}
}

// TestWaitWakes: a Wait asleep on a pipe, a queue and a process wakes for each: a record sent
// by another process, a message it puts, its exit, its death holding a writing end (ErrPeerGone
// on the next receive), and a cancelled context.
func TestWaitWakes(t *testing.T) {
	p, r := readingEnd(t)
	q, err := ring.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	hold, held := readingEnd(t)

	wait := func(what string, want ring.Waitable, ends ...ring.Waitable) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		ready, err := ring.Wait(ctx, ends...)
		if err != nil || !slices.Contains(ready, want) {
			t.Fatalf("%s: Wait returned %v, %v", what, ready, err)
		}
	}
	child, err := sender.Start(t.Context(), senderArgs{Pipe: p, N: 1})
	if err != nil {
		t.Fatal(err)
	}
	wait("a record", r, r, q)
	if err := r.Release(); !errors.Is(err, ring.ErrNotReserved) {
		t.Fatalf("Release after Wait: %v (Wait took the record)", err)
	}
	wait("the sender's exit", ring.Done(child.Done()), q, ring.Done(child.Done()))
	if _, err := r.Recv(nil); err != nil {
		t.Fatal(err)
	}
	wait("the end of the stream", r, r, q)
	if _, err := r.Recv(nil); !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream ended: %v", err)
	}

	if _, err := sender.Start(t.Context(), senderArgs{Queue: q, ID: 1, N: 1}); err != nil {
		t.Fatal(err)
	}
	wait("a message", q, held, q)
	if err := q.Poll(t.Context()); err != nil {
		t.Fatalf("Poll with a message: %v", err)
	}
	if _, err := q.Get(nil); err != nil {
		t.Fatal(err)
	}

	holder, err := sender.Start(t.Context(), senderArgs{Pipe: hold, Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := held.RecvContext(t.Context(), nil); err != nil || string(msg) != "claimed" {
		t.Fatalf("the holder's record: %q, %v", msg, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = holder.Kill()
	}()
	wait("the writer's death", held, held, q)
	if _, err := held.Recv(nil); !errors.Is(err, ring.ErrPeerGone) {
		t.Fatalf("Recv after the writer died: %v", err)
	}
	_ = holder.Wait()

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	if _, err := ring.Wait(ctx, q); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with its context cancelled: %v", err)
	}
}

// TestQueuePoll: a Queue's Ready and Poll see a message without taking it, time out on an
// empty queue, and say io.EOF once it is shut down and drained.
func TestQueuePoll(t *testing.T) {
	q, err := ring.NewQueueOf[int64]()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Ready() {
		t.Fatal("Ready on an empty queue")
	}
	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := q.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll on an empty queue: %v", err)
	}
	if err := q.Put(7); err != nil {
		t.Fatal(err)
	}
	if err := q.Poll(t.Context()); err != nil || !q.Ready() || q.Len() != 1 {
		t.Fatalf("Poll with a value: %v, Ready %v, Len %d", err, q.Ready(), q.Len())
	}
	if err := q.Queue().Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := q.Poll(t.Context()); err != nil {
		t.Fatalf("Poll on a shut-down queue with a value left: %v", err)
	}
	if v, err := q.Get(); err != nil || v != 7 {
		t.Fatalf("Get: %d, %v", v, err)
	}
	if err := q.Poll(t.Context()); !errors.Is(err, io.EOF) || q.Ready() {
		t.Fatalf("Poll on a drained queue: %v", err)
	}
	_ = q.Close()
	if err := q.Poll(t.Context()); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
	if fmt.Sprint(q) == "" {
		t.Fatal("no String")
	}
}
