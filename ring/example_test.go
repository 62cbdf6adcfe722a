package ring_test

import (
	"fmt"
	"io"

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
