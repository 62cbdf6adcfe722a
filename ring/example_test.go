package ring_test

import (
	"context"
	"fmt"

	"github.com/shmkit/shmkit/ring"
)

// Records written in place and read in place, in one process for brevity; pass the Pipe to a
// child with procs to use it across processes.
func ExamplePipe() {
	p, err := ring.NewPipe("", 4096) // anonymous
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Detach()
	w, _ := p.Writer()
	r, _ := p.Reader()

	buf, _ := w.Reserve(5)
	copy(buf, "hello")
	_ = w.Send([]byte("world"))
	_ = w.Close()

	for {
		rec, err := r.Next()
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(string(rec))
	}
	// Output:
	// hello
	// world
	// EOF
}

// A queue of fixed-size values: no encoding per message.
func ExampleTypedQueue() {
	type tick struct {
		Seq   uint64
		Price float64
	}
	q, err := ring.NewTypedQueue[tick]("", 64)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Queue().Detach()
	ctx := context.Background()
	_ = q.PutContext(ctx, tick{1, 101.5})
	_ = q.PutContext(ctx, tick{2, 99.25})
	_ = q.Queue().Close()
	for {
		t, err := q.GetContext(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(t.Seq, t.Price)
	}
	// Output:
	// 1 101.5
	// 2 99.25
	// file already closed
}
