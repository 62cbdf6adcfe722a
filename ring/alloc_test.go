package ring_test

import (
	"testing"

	"github.com/shmkit/shmkit/ring"
)

// The hot paths allocate nothing: a send and a receive that need no wait, on a pipe and on a
// queue.
func TestHotPathsDoNotAllocate(t *testing.T) {
	p, err := ring.NewPipe(ring.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, _ := p.Writer()
	r, _ := p.Reader()
	msg := make([]byte, 64)
	if n := testing.AllocsPerRun(1000, func() {
		buf, _ := w.Reserve(len(msg))
		copy(buf, msg)
		_ = w.Commit()
		_, _ = r.Next()
		_ = r.Release()
	}); n != 0 {
		t.Errorf("pipe Reserve/Commit/Next/Release: %v allocations", n)
	}
	q, err := ring.NewQueue(ring.Capacity(16), ring.SlotSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	buf := make([]byte, 64)
	if n := testing.AllocsPerRun(1000, func() {
		_ = q.PutContext(t.Context(), msg)
		buf, _ = q.GetContext(t.Context(), buf)
	}); n != 0 {
		t.Errorf("queue Put/Get: %v allocations", n)
	}
}

// A queue and a pipe of a plain type copy its bytes: no allocation either.
func TestPlainTypedHotPathsDoNotAllocate(t *testing.T) {
	type tick struct {
		Seq   uint64
		Price float64
	}
	q, err := ring.NewQueueOf[tick](ring.Capacity(16))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n := testing.AllocsPerRun(1000, func() {
		_ = q.Put(tick{1, 2})
		_, _ = q.Get()
	}); n != 0 {
		t.Errorf("QueueOf[plain] Put/Get: %v allocations", n)
	}
	p, err := ring.NewPipeOf[tick](ring.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, _ := p.Writer()
	r, _ := p.Reader()
	if n := testing.AllocsPerRun(1000, func() {
		_ = w.Send(tick{1, 2})
		_, _ = r.Recv()
	}); n != 0 {
		t.Errorf("PipeOf[plain] Send/Recv: %v allocations", n)
	}
}
