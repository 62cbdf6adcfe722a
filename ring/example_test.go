package ring_test

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
)

// Records written in place and read in place, in one process for brevity; pass the Pipe to a
// child with procs to use it across processes.
func ExamplePipe() {
	p, err := ring.NewPipe(ring.Capacity(4096)) // anonymous
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
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

// A buffered writer, as a bufio.Writer: the reader sees nothing until a buffer's worth of
// records waits, or Flush (or Close).
func ExampleWriter_SetBuffer() {
	p, err := ring.NewPipe(ring.Capacity(1 << 16))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	w, _ := p.Writer()
	r, _ := p.Reader()
	_ = w.SetBuffer(4096)

	for i := range 3 {
		_ = w.Send([]byte{byte('a' + i)})
	}
	fmt.Println("before Flush:", r.Ready())
	_ = w.Flush()
	fmt.Println("after Flush:", r.Ready())
	_ = w.Close()
	for rec, err := r.Next(); err == nil; rec, err = r.Next() {
		fmt.Print(string(rec))
	}
	fmt.Println()
	// Output:
	// before Flush: false
	// after Flush: true
	// abc
}

// A queue of fixed-size values: no encoding per message.
func ExampleQueueOf() {
	type tick struct {
		Seq   uint64
		Price float64
	}
	q, err := ring.NewQueueOf[tick](ring.Capacity(64))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close() // this process detaches
	_ = q.Put(tick{1, 101.5})
	_ = q.Put(tick{2, 99.25})
	_ = q.Shutdown() // no more puts, by anyone: readers drain, then io.EOF
	for {
		t, err := q.Get()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(t.Seq, t.Price)
	}
	// Output:
	// 1 101.5
	// 2 99.25
}

// Any Go value through a queue, as Python's put(obj): strings, slices and maps are encoded
// straight into the slot.
func ExampleNewQueueOf() {
	type order struct {
		Client string
		Items  []string
		Qty    map[string]int
	}
	q, err := ring.NewQueueOf[order](ring.SlotSize(256))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Close()
	_ = q.Put(order{"ada", []string{"tea", "cake"}, map[string]int{"tea": 2, "cake": 1}})
	o, err := q.Get()
	fmt.Println(o.Client, o.Items, o.Qty["tea"], err)
	// Output: ada [tea cake] 2 <nil>
}

// steps sends three records and ends its stream.
var steps = procs.Entry("ring.exampleReport", func(ctx context.Context, p *ring.Pipe) error {
	w, err := p.Writer()
	if err != nil {
		return err
	}
	for i := range 3 {
		if err := w.SendContext(ctx, fmt.Appendf(nil, "step %d", i)); err != nil {
			return err
		}
	}
	return w.Close()
})

// A child's records and its exit, waited on together (Python's connection.wait): Wait returns
// whichever ends are ready, and each is handled until none is left.
func ExampleWait() {
	ctx := context.Background()
	p, err := ring.NewPipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	r, _ := p.Reader()
	child, err := steps.Start(ctx, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	exited := ring.Done(child.Done())
	ends := []ring.Waitable{r, exited}
	for len(ends) > 0 {
		ready, err := ring.Wait(ctx, ends...)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, end := range ready {
			switch end {
			case r:
				msg, err := r.Recv(nil)
				if err == nil {
					fmt.Println(string(msg))
					continue
				}
				fmt.Println("stream:", err) // io.EOF: the child closed its end
			case exited:
			}
			ends = slices.DeleteFunc(ends, func(e ring.Waitable) bool { return e == end })
		}
	}
	fmt.Println("child exit code:", child.ExitCode())
	// Output:
	// step 0
	// step 1
	// step 2
	// stream: EOF
	// child exit code: 0
}
