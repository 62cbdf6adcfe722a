package ctypes_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

type addArgs struct {
	V      *ctypes.Value[int64]
	Go     *sem.SharedEvent
	N      int
	Atomic bool
}

// adder adds 1 to V N times: atomically, or by a plain read-modify-write with no lock.
var adder = procs.Entry("ctypes.adder", func(ctx context.Context, a addArgs) error {
	if err := a.Go.WaitContext(ctx); err != nil {
		return err
	}
	for i := range a.N {
		if a.Atomic {
			if _, err := a.V.Add(1); err != nil {
				return err
			}
			continue
		}
		p := a.V.Ptr()
		x := *p
		if i%128 == 0 {
			runtime.Gosched()
		}
		*p = x + 1
	}
	return nil
})

func runAdders(t *testing.T, atomic bool) int64 {
	t.Helper()
	const procsN, n = 3, 200_000
	v, err := ctypes.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	start, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer start.Close()
	ps := testmain.StartN(t, adder, procsN, func(int) addArgs { return addArgs{V: v, Go: start, N: n, Atomic: atomic} })
	time.Sleep(50 * time.Millisecond)
	_ = start.Set()
	testmain.WaitAll(t, ps...)
	got, err := v.Load()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Value.Add from three processes is exact; the same count by a plain read-modify-write loses
// updates (which is what shows the test can fail).
func TestValueAddAcrossProcesses(t *testing.T) {
	if got := runAdders(t, true); got != 3*200_000 {
		t.Fatalf("atomic adds: %d, want %d", got, 3*200_000)
	}
	for attempt := range 5 {
		if got := runAdders(t, false); got < 3*200_000 {
			t.Logf("plain adds lost %d updates (attempt %d): the atomic result above is not luck", 3*200_000-got, attempt)
			return
		}
	}
	t.Fatal("plain read-modify-writes never lost an update: the test cannot tell atomic from not")
}

type pair struct{ A, B int64 } // the invariant: B == -A

type tearArgs struct {
	Arr *ctypes.Array[pair]
	K   int64
	N   int
}

// writePairs sets every element to (k, -k) under the lock, N times with growing k.
var writePairs = procs.Entry("ctypes.writePairs", func(ctx context.Context, a tearArgs) error {
	for i := range a.N {
		k := a.K*1_000_000 + int64(i)
		if err := a.Arr.Update(func(s []pair) {
			for j := range s {
				s[j].A = k
				s[j].B = -k
			}
		}); err != nil {
			return err
		}
	}
	return nil
})

// Updates under the Array's lock never tear: a reader copying under the lock sees whole pairs
// from a single update.
func TestArrayUpdatesDoNotTear(t *testing.T) {
	arr, err := ctypes.NewArray[pair](64)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Close()
	ps := testmain.StartN(t, writePairs, 2, func(i int) tearArgs { return tearArgs{Arr: arr, K: int64(i + 1), N: 3000} })
	buf := make([]pair, 64)
	for alive := true; alive; {
		alive = false
		for _, p := range ps {
			alive = alive || p.Alive()
		}
		if _, err := arr.CopyTo(buf); err != nil {
			t.Fatal(err)
		}
		for j, p := range buf {
			if p.B != -p.A || p.A != buf[0].A {
				t.Fatalf("torn: element %d is %+v, element 0 %+v", j, p, buf[0])
			}
		}
	}
	testmain.WaitAll(t, ps...)
}

// A []T from Slice, kept alone while the RawArray is dropped and collected, stays usable.
func TestSliceOutlivesItsRawArray(t *testing.T) {
	s := func() []float64 {
		a, err := ctypes.NewRawArray[float64](1 << 16)
		if err != nil {
			t.Fatal(err)
		}
		return a.Slice()
	}()
	for i := range 30 {
		runtime.GC()
		s[i] = float64(i)
		s[len(s)-1-i] = float64(i)
		if s[i] != float64(i) {
			t.Fatal("the memory changed under us")
		}
	}
}

type shareArgs struct {
	Raw *ctypes.RawArray[float32]
	Arr *ctypes.Array[int16]
	Val *ctypes.Value[pair]
}

var touchAll = procs.Entry("ctypes.touchAll", func(ctx context.Context, a shareArgs) error {
	a.Raw.Slice()[3] = 1.5
	if err := a.Arr.Set(2, -7); err != nil {
		return err
	}
	return a.Val.Update(func(p *pair) { p.A, p.B = 4, -4 })
})

// Every array type travels in an entry's argument as it is, anonymous or named.
func TestArraysTravel(t *testing.T) {
	raw, err := ctypes.NewRawArray[float32](8)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	arr, err := ctypes.CreateArray[int16](testmain.Name(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Unlink()
	defer arr.Close()
	val, err := ctypes.NewValue(pair{1, -1})
	if err != nil {
		t.Fatal(err)
	}
	defer val.Close()
	if err := touchAll.Run(t.Context(), shareArgs{Raw: raw, Arr: arr, Val: val}); err != nil {
		t.Fatal(err)
	}
	x, _ := arr.At(2)
	v, _ := val.Get()
	if raw.Slice()[3] != 1.5 || x != -7 || v != (pair{4, -4}) {
		t.Fatalf("the child's writes: %v %v %v", raw.Slice()[3], x, v)
	}
}

type particle struct {
	X, Y float64
	Tags []string
}

func TestBadInput(t *testing.T) {
	name := testmain.Name(t)
	a, err := ctypes.CreateArray[int32](name, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = ctypes.OpenArray[float64](name)
	if !errors.Is(err, ctypes.ErrType) || !strings.Contains(err.Error(), "<i4") || !strings.Contains(err.Error(), "<f8") {
		t.Errorf("an Array[int32] opened as Array[float64]: %v (want ErrType naming both)", err)
	}
	if _, err := ctypes.OpenRawArray[int32](name); !errors.Is(err, shm.ErrKind) {
		t.Errorf("an Array opened as a RawArray: %v", err)
	}
	if o, err := ctypes.OpenArray[int32](name); err != nil || o.Len() != 10 {
		t.Errorf("reopened as itself: %v", err)
	} else {
		_ = o.Close()
	}
	for _, n := range []int{0, -1, 1 << 62} {
		if _, err := ctypes.NewRawArray[float64](n); !errors.Is(err, ctypes.ErrInvalid) {
			t.Errorf("length %d: %v", n, err)
		}
	}
	if _, err := ctypes.NewRawArray[particle](4); !errors.Is(err, ctypes.ErrInvalid) || !strings.Contains(err.Error(), "particle.Tags: slice") {
		t.Errorf("a T with a slice: %v", err)
	}
	if _, err := ctypes.NewValue[int](0); !errors.Is(err, ctypes.ErrInvalid) || !strings.Contains(err.Error(), "int") {
		t.Errorf("a Value[int]: %v", err)
	}
	f, err := ctypes.NewValue[float64](1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Add(1); !errors.Is(err, ctypes.ErrInvalid) {
		t.Errorf("atomic Add on a float64: %v", err)
	}
	if got, err := f.AddFloat(0.5); err != nil || got != 1.5 {
		t.Errorf("AddFloat: %v %v", got, err)
	}
	if ok, err := f.CompareAndSwap(1.5, 2.25); !ok || err != nil {
		t.Errorf("CompareAndSwap on a float64: %v %v", ok, err)
	}
	if got, err := f.Load(); got != 2.25 || err != nil {
		t.Errorf("Load of a float64: %v %v", got, err)
	}
	pv, err := ctypes.NewValue[pair](pair{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pv.Load(); !errors.Is(err, ctypes.ErrInvalid) {
		t.Errorf("atomic Load of a struct: %v", err)
	}
	_ = pv.Close()
	if _, err := a.At(10); !errors.Is(err, ctypes.ErrInvalid) {
		t.Errorf("index 10 of 10: %v", err)
	}
	_ = a.Close()
	if err := a.Set(0, 1); !errors.Is(err, ctypes.ErrClosed) || a.Slice() != nil {
		t.Errorf("use after Close: %v", err)
	}
	_ = a.Unlink()
}

func Example() {
	counter, err := ctypes.NewValue[int64](0) // Python's Value('q', 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer counter.Close()
	_, _ = counter.Add(41)
	n, _ := counter.Add(1)
	fmt.Println(n)
	// Output: 42
}

type placedArgs struct {
	Raw *ctypes.RawArray[int32]
	Arr *ctypes.Array[float64]
	Val *ctypes.Value[int64]
}

var usePlaced = procs.Entry("ctypes.usePlaced", func(ctx context.Context, a placedArgs) error {
	a.Raw.Slice()[1] = 7
	if err := a.Arr.Set(0, 2.5); err != nil {
		return err
	}
	_, err := a.Val.Add(5)
	return err
})

// Arrays and values placed at offsets of a segment the caller owns: usable, passable to a
// child, and their Close leaves the segment to its owner. Bad offsets are refused.
func TestPlacedArrays(t *testing.T) {
	seg, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	raw, err := ctypes.RawArrayAt[int32](seg, 0, 16)
	if err != nil {
		t.Fatal(err)
	}
	arr, err := ctypes.ArrayAt[float64](seg, 128, 8)
	if err != nil {
		t.Fatal(err)
	}
	val, err := ctypes.ValueAt[int64](seg, 512)
	if err != nil {
		t.Fatal(err)
	}
	if err := usePlaced.Run(t.Context(), placedArgs{Raw: raw, Arr: arr, Val: val}); err != nil {
		t.Fatal(err)
	}
	x, _ := arr.At(0)
	v, _ := val.Load()
	if raw.Slice()[1] != 7 || x != 2.5 || v != 5 {
		t.Fatalf("the child's writes: %v %v %v", raw.Slice()[1], x, v)
	}
	if err := raw.Close(); err != nil || seg.Bytes() == nil {
		t.Fatalf("closing a placed array closed its segment: %v", err)
	}
	if raw.Slice() != nil {
		t.Fatal("a closed placed view still hands out its slice")
	}
	for _, c := range []struct{ off, n int }{{4, 1}, {-8, 1}, {4096, 1}, {0, 2000}} {
		if _, err := ctypes.RawArrayAt[int32](seg, c.off, c.n); !errors.Is(err, ctypes.ErrInvalid) {
			t.Errorf("RawArrayAt(%d, %d): %v", c.off, c.n, err)
		}
	}
	if _, err := ctypes.ArrayAt[int64](seg, 4096-64, 1); !errors.Is(err, ctypes.ErrInvalid) {
		t.Errorf("an Array whose elements do not fit: %v", err)
	}
}
