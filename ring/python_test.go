package ring_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
)

// getUntilEOF takes messages until io.EOF and fails if it took any: the queue it is given is
// shut down now while it waits, with messages in it that must be dropped.
var getUntilEOF = procs.Entry("ring.getUntilEOF", func(ctx context.Context, q *ring.JoinableQueue) error {
	for !q.IsShutdown() { // the messages are there; wait for ShutdownNow before the first Get
		time.Sleep(time.Millisecond)
	}
	msg, err := q.GetContext(ctx, nil)
	if !errors.Is(err, io.EOF) {
		return fmt.Errorf("Get after ShutdownNow: %q, %v", msg, err)
	}
	if _, ok, err := q.TryGet(nil); ok || !errors.Is(err, io.EOF) {
		return fmt.Errorf("TryGet after ShutdownNow: %v, %v", ok, err)
	}
	return nil
})

// blockedGet waits on an empty queue until it is shut down now.
var blockedGet = procs.Entry("ring.blockedGet", func(ctx context.Context, q *ring.Queue) error {
	if _, err := q.GetContext(ctx, nil); !errors.Is(err, io.EOF) {
		return fmt.Errorf("a blocked Get after ShutdownNow: %v", err)
	}
	return nil
})

// TestQueueShutdownNow: Python 3.13's shutdown(immediate=True): what is left is dropped, every
// Get in every process ends with io.EOF, Join returns, Put fails.
func TestQueueShutdownNow(t *testing.T) {
	q, err := ring.NewJoinableQueue(ring.Capacity(64))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := range 10 {
		if err := q.Put([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := getUntilEOF.Start(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Shutdown(); err != nil { // a drain first: ShutdownNow may follow it
		t.Fatal(err)
	}
	if err := q.ShutdownNow(); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := q.JoinContext(ctx); err != nil || q.Unfinished() != 0 || q.Len() != 0 {
		t.Fatalf("Join after ShutdownNow: %v, %d unfinished, %d left", err, q.Unfinished(), q.Len())
	}
	if err := q.Put([]byte{1}); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Put after ShutdownNow: %v", err)
	}
	if err := q.ShutdownNow(); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("a second ShutdownNow: %v", err)
	}
	if err := q.Shutdown(); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Shutdown after ShutdownNow: %v", err)
	}

	e, err := ring.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b, err := blockedGet.Start(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let it sleep in Get
	if err := e.ShutdownNow(); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitContext(ctx); err != nil {
		t.Fatal(err)
	}
}

// sendAfter sends "late" after Delay, then closes its end.
var sendAfter = procs.Entry("ring.sendAfter", func(ctx context.Context, p *ring.Pipe) error {
	w, err := p.Writer()
	if err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	if err := w.Send([]byte("late")); err != nil {
		return err
	}
	return w.Close()
})

// TestPipePoll: CPython's test_poll: poll() with no timeout is false on an empty pipe, poll
// with a timeout waits for a message without taking it, and at the end of the stream it says
// so.
func TestPipePoll(t *testing.T) {
	p, err := ring.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	child, err := sendAfter.Start(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ready() {
		t.Fatal("Ready on an empty pipe")
	}
	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := r.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll before the message: %v", err)
	}
	if err := r.Poll(t.Context()); err != nil || !r.Ready() || !r.Ready() {
		t.Fatalf("Poll for the message: %v, Ready %v", err, r.Ready())
	}
	msg, err := r.Recv(nil)
	if err != nil || string(msg) != "late" {
		t.Fatalf("the message polled for: %q, %v", msg, err)
	}
	if err := child.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Poll(t.Context()); !errors.Is(err, io.EOF) || r.Ready() {
		t.Fatalf("Poll at the end of the stream: %v", err)
	}
}

type turnArgs struct {
	Pipe     *ring.Pipe
	From, To int32      // send the numbers From..To-1
	Done     *ring.Pipe // read: the parent's word that the turn may end (any record)
	Read     bool       // read From..To-1 instead of sending them
}

// takeTurn claims an end of a pipe another live process held and handed over, uses it, hands
// it over in turn, and stays alive until told to go (so the next claim is not a take-over of
// a dead end).
var takeTurn = procs.Entry("ring.takeTurn", func(ctx context.Context, a turnArgs) error {
	if a.Read {
		r, err := a.Pipe.Reader()
		if err != nil {
			return err
		}
		for want := a.From; want < a.To; want++ {
			msg, err := r.RecvContext(ctx, nil)
			if err != nil {
				return err
			}
			if got := int32(msg[0]) | int32(msg[1])<<8; got != want {
				return fmt.Errorf("read %d, want %d", got, want)
			}
		}
		if err := r.HandOver(); err != nil {
			return err
		}
	} else {
		w, err := a.Pipe.Writer()
		if err != nil {
			return err
		}
		for i := a.From; i < a.To; i++ {
			if err := w.Send([]byte{byte(i), byte(i >> 8)}); err != nil {
				return err
			}
		}
		if err := w.HandOver(); err != nil {
			return err
		}
	}
	done, err := a.Done.Reader()
	if err != nil {
		return err
	}
	_, err = done.RecvContext(ctx, nil)
	return err
})

// TestPipeHandOver: CPython lets processes use one Connection in turn; here each hands its
// end over and the next claims it while the first still runs: two writers in turn, then the
// reading end passed from the parent to a child, every record once and in order.
func TestPipeHandOver(t *testing.T) {
	p, err := ring.NewPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var dones []*ring.Pipe
	start := func(a turnArgs) *procs.Process {
		d, err := ring.NewPipe()
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, d)
		a.Pipe, a.Done = p, d
		c, err := takeTurn.Start(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := start(turnArgs{From: 0, To: 100})
	// The parent claims the end once the first writer has handed it over (ErrBusy until then:
	// the first writer lives on), and hands it on at once.
	deadline := time.Now().Add(10 * time.Second)
	for p.Len() == 0 && time.Now().Before(deadline) { // the first writer has claimed and sent
		time.Sleep(time.Millisecond)
	}
	var w *ring.Writer
	for w, err = p.Writer(); errors.Is(err, ring.ErrBusy) && time.Now().Before(deadline); w, err = p.Writer() {
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatalf("claiming the end the first writer handed over: %v", err)
	}
	if !first.Alive() {
		t.Fatal("the first writer exited: the claim proves nothing")
	}
	if err := w.HandOver(); err != nil {
		t.Fatal(err)
	}
	second := start(turnArgs{From: 100, To: 200})
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	for want := int32(0); want < 50; want++ {
		msg, err := r.RecvContext(t.Context(), nil)
		if got := int32(msg[0]) | int32(msg[1])<<8; err != nil || got != want {
			t.Fatalf("record %d: %d, %v", want, got, err)
		}
	}
	if err := r.HandOver(); err != nil {
		t.Fatal(err)
	}
	third := start(turnArgs{From: 50, To: 200, Read: true})
	for _, d := range dones {
		w, err := d.Writer()
		if err != nil {
			t.Fatal(err)
		}
		_ = w.Send([]byte{1})
		_ = w.Close()
	}
	for _, c := range []*procs.Process{first, second, third} {
		if err := c.WaitContext(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dones {
		_ = d.Close()
	}
	if _, err := r.Next(); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("a handed-over Reader: %v", err)
	}
}

// TestQueueStrings: what fmt prints of a queue: name, fill level against capacity, slot size,
// unfinished tasks, shutdown, and the element type of a typed queue or pipe.
func TestQueueStrings(t *testing.T) {
	q, err := ring.NewJoinableQueue(ring.Capacity(8), ring.SlotSize(32))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Put([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(q); got != "ring.JoinableQueue(anonymous, 1 of 8 messages of up to 32 bytes, 1 unfinished)" {
		t.Errorf("JoinableQueue: %q", got)
	}
	if got := fmt.Sprint(q.Queue); got != "ring.JoinableQueue(anonymous, 1 of 8 messages of up to 32 bytes, 1 unfinished)" {
		t.Errorf("a JoinableQueue's Queue: %q", got)
	}
	if err := q.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(q); got != "ring.JoinableQueue(anonymous, 1 of 8 messages of up to 32 bytes, 1 unfinished, shut down)" {
		t.Errorf("JoinableQueue shut down: %q", got)
	}
	if err := q.ShutdownNow(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(q); got != "ring.JoinableQueue(anonymous, 0 of 8 messages of up to 32 bytes, 0 unfinished, shut down now)" {
		t.Errorf("JoinableQueue shut down now: %q", got)
	}
	_ = q.Close()
	if got := fmt.Sprint(q); got != "ring.JoinableQueue(anonymous, closed)" {
		t.Errorf("JoinableQueue closed: %q", got)
	}

	qo, err := ring.NewQueueOf[int32](ring.Capacity(4))
	if err != nil {
		t.Fatal(err)
	}
	defer qo.Close()
	if got := fmt.Sprint(qo); got != "ring.QueueOf[int32](anonymous, 0 of 4 messages of up to 4 bytes)" {
		t.Errorf("QueueOf: %q", got)
	}
	if got := fmt.Sprint(qo.Queue()); got != "ring.Queue(anonymous, 0 of 4 messages of up to 4 bytes)" {
		t.Errorf("Queue: %q", got)
	}
	po, err := ring.NewPipeOf[string]()
	if err != nil {
		t.Fatal(err)
	}
	defer po.Close()
	if got := fmt.Sprint(po); !strings.HasPrefix(got, "ring.PipeOf[string](anonymous, 0 of ") {
		t.Errorf("PipeOf: %q", got)
	}
}
