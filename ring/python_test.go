package ring_test

import (
	"context"
	"errors"
	"fmt"
	"io"
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
