package ring_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/shm"
)

// order is a message a Python port would pickle: strings, slices, a map, a pointer, and an
// interface holding a registered type.
type order struct {
	ID     int64
	Client string
	Lines  []line
	Tags   map[string]string
	Note   *string
	Extra  any
}

type line struct {
	SKU string
	Qty int32
}

type discount struct{ Percent float64 }

func init() { shm.RegisterType(discount{}) }

func sampleOrder(i int) order {
	note := fmt.Sprintf("note %d", i)
	return order{ID: int64(i), Client: strings.Repeat("c", i%50), Lines: []line{{"a", int32(i)}, {"b", 2}},
		Tags: map[string]string{"k": "v", "n": fmt.Sprint(i)}, Note: &note, Extra: discount{float64(i) / 2}}
}

type typedArgs struct {
	Q      *ring.QueueOf[order]
	P      *ring.PipeOf[order]
	N      int
	Buffer int // the writer's SetBuffer, if above 0
}

// echoOrders takes N orders from Q and sends each on P, then closes P's writing end.
var echoOrders = procs.Entry("ring.echoOrders", func(ctx context.Context, a typedArgs) error {
	w, err := a.P.Writer()
	if err != nil {
		return err
	}
	if a.Buffer > 0 {
		if err := w.SetBuffer(a.Buffer); err != nil {
			return err
		}
	}
	for range a.N {
		o, err := a.Q.GetContext(ctx)
		if err != nil {
			return err
		}
		if err := w.SendContext(ctx, o); err != nil {
			return err
		}
	}
	return w.Close()
})

// Any Go value over a Queue and a Pipe, across processes, as Python's put(obj) and send(obj):
// encoded straight into the slot or record, decoded straight from it.
func TestQueueOfAndPipeOfCarryAnyValue(t *testing.T) {
	for _, buffer := range []int{0, 2048} {
		t.Run(fmt.Sprintf("buffer=%d", buffer), func(t *testing.T) { carryAnyValue(t, buffer) })
	}
}

func carryAnyValue(t *testing.T, buffer int) {
	const n = 500
	q, err := ring.NewQueueOf[order](ring.Capacity(16), ring.SlotSize(512))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	p, err := ring.NewPipeOf[order](ring.Capacity(1 << 14))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	child, err := echoOrders.Start(t.Context(), typedArgs{Q: q, P: p, N: n, Buffer: buffer})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Reader()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for i := range n {
			if err := q.Put(sampleOrder(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range n {
		got, err := r.Recv()
		if err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		if want := sampleOrder(i); !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if _, err := r.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the writer closed: %v, want io.EOF", err)
	}
	testmain.WaitAll(t, child)
}

// A buffered typed writer holds its records back until a buffer's worth waits or Flush, for
// values encoded in place as for plain ones.
func TestPipeOfBuffered(t *testing.T) {
	t.Run("encoded", func(t *testing.T) { pipeOfBuffered(t, sampleOrder) })
	t.Run("plain", func(t *testing.T) { pipeOfBuffered(t, func(i int) [4]int64 { return [4]int64{int64(i), 2, 3, 4} }) })
}

func pipeOfBuffered[T any](t *testing.T, value func(int) T) {
	p, err := ring.NewPipeOf[T](ring.Capacity(1 << 14))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, r := ends(t, p)
	if err := w.SetBuffer(-1); !errors.Is(err, ring.ErrInvalid) {
		t.Fatalf("SetBuffer(-1): %v, want ErrInvalid", err)
	}
	if err := w.SetBuffer(1024); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for ; sent < 2; sent++ {
		if err := w.Send(value(sent)); err != nil {
			t.Fatal(err)
		}
	}
	if r.Reader().Ready() {
		t.Fatal("a buffered value was seen before Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range sent {
		if got, err := r.Recv(); err != nil || !reflect.DeepEqual(got, value(i)) {
			t.Fatalf("value %d: got %+v, %v", i, got, err)
		}
	}
	// A buffer's worth goes out without a Flush, every value sent with it, and not before.
	for !r.Reader().Ready() {
		if sent == 2+1024 {
			t.Fatal("1024 values sent through a 1024-byte buffer and none seen")
		}
		if err := w.Send(value(sent)); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	if sent == 3 {
		t.Fatal("a value seen before a buffer's worth waited")
	}
	for i := 2; i < sent; i++ {
		if got, err := r.Recv(); err != nil || !reflect.DeepEqual(got, value(i)) {
			t.Fatalf("value %d: got %+v, %v", i, got, err)
		}
	}
	if r.Reader().Ready() {
		t.Fatal("more seen than was sent")
	}
}

func TestTypedBadInput(t *testing.T) {
	q, err := ring.CreateQueueOf[order](testmain.Name(t), ring.Capacity(4), ring.SlotSize(64))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	big := sampleOrder(1)
	big.Client = strings.Repeat("x", 100)
	if err := q.Put(big); !errors.Is(err, ring.ErrTooLarge) {
		t.Errorf("a value encoding beyond the slot: %v, want ErrTooLarge", err)
	}
	if q.Len() != 0 {
		t.Error("a refused value was queued")
	}
	type unregistered struct{ X int }
	bad := sampleOrder(2)
	bad.Extra = unregistered{1}
	if err := q.Put(bad); err == nil || !strings.Contains(err.Error(), "RegisterType") {
		t.Errorf("an unregistered type inside an interface: %v", err)
	}
	if _, err := ring.OpenQueueOf[line](q.Queue().Name()); !errors.Is(err, ring.ErrInvalid) {
		t.Errorf("a queue of orders opened as one of lines: %v, want ErrInvalid", err)
	}
	if again, err := ring.OpenQueueOf[order](q.Queue().Name()); err != nil {
		t.Errorf("reopened as what it is: %v", err)
	} else {
		_ = again.Close() // on Windows an open handle keeps the section (and the leak check) alive
	}
	p, err := ring.NewPipeOf[order](ring.Capacity(256))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, _ := p.Writer()
	big.Client = strings.Repeat("x", 200)
	if err := w.Send(big); !errors.Is(err, ring.ErrTooLarge) {
		t.Errorf("a value beyond MaxRecord: %v, want ErrTooLarge", err)
	}
	if _, err := ring.AsPipeOf[line](p.Pipe()); !errors.Is(err, ring.ErrInvalid) {
		t.Errorf("a pipe of orders viewed as one of lines: %v", err)
	}
}

// flaky encodes once, for the sizing pass, and fails the second time, as a MarshalBinary that
// depends on changing state may: the record already reserved must not reach the reader.
type flaky struct{ calls *int }

func (f flaky) MarshalBinary() ([]byte, error) {
	*f.calls++
	if *f.calls%2 == 0 {
		return nil, errors.New("changed under the encoder")
	}
	return []byte("ok"), nil
}

func (f *flaky) UnmarshalBinary(b []byte) error {
	if string(b) != "ok" {
		return fmt.Errorf("got %q", b)
	}
	return nil
}

func TestEncodingThatFailsInPlaceSendsNothing(t *testing.T) {
	calls := 0
	p, err := ring.NewPipeOf[flaky](ring.Capacity(256))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, r := ends(t, p)
	if err := w.Send(flaky{&calls}); err == nil {
		t.Fatal("a failed encoding was sent")
	}
	calls = 0
	q, err := ring.NewQueueOf[flaky](ring.Capacity(4), ring.SlotSize(16))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Put(flaky{&calls}); err == nil {
		t.Fatal("a failed encoding was queued")
	}
	// What comes after is delivered, and nothing before it.
	if err := w.Writer().Send([]byte{2, 'o', 'k'}); err != nil { // a valid encoding: length 2, "ok"
		t.Fatal(err)
	}
	if _, err := r.Recv(); err != nil {
		t.Fatalf("the record after the cancelled one: %v", err)
	}
	if ok, err := q.Queue().TryPut([]byte{2, 'o', 'k'}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, err := q.TryGet(); !ok || err != nil {
		t.Fatalf("the message after the given-up slot: %v %v", ok, err)
	}
}
