package ctypes_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/procs"
)

// lockAndDie takes the array's lock, writes, and exits holding it.
var lockAndDie = procs.Entry("ctypes.lockAndDie", func(ctx context.Context, a *ctypes.Array[float64]) error {
	if err := a.Lock(); err != nil {
		return err
	}
	a.Slice()[0] = 2.5
	os.Exit(0)
	return nil
})

// TestStrings: what fmt prints of each shared type: name, contents, fill, and an array's lock
// as its holder, in another process, left it.
func TestStrings(t *testing.T) {
	v, err := ctypes.CreateValue(fmt.Sprintf("ctypes-str-%d", os.Getpid()), int64(42))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Unlink()
	defer v.Close()
	if got, want := fmt.Sprint(v), fmt.Sprintf("ctypes.Value[int64](ctypes-str-%d, 42)", os.Getpid()); got != want {
		t.Errorf("Value: %q, want %q", got, want)
	}
	type point struct{ X, Y float32 }
	p, err := ctypes.NewValue(point{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := fmt.Sprint(p); got != "ctypes.Value[ctypes_test.point](anonymous, {1 2})" {
		t.Errorf("Value of a struct: %q", got)
	}

	a, err := ctypes.NewArray[float64](10)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := fmt.Sprint(a); got != "ctypes.Array[float64](anonymous, len 10: [0 0 0 0 0 0 0 0 ...])" {
		t.Errorf("Array: %q", got)
	}
	child, err := lockAndDie.Start(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	want := fmt.Sprintf("ctypes.Array[float64](anonymous, len 10: [2.5 0 0 0 0 0 0 0 ...], sem.Mutex(owner pid %d, dead))", child.Pid())
	if got := fmt.Sprint(a); got != want {
		t.Errorf("Array locked by a dead child: %q, want %q", got, want)
	}

	r, err := ctypes.NewRawArray[int32](3)
	if err != nil {
		t.Fatal(err)
	}
	copy(r.Slice(), []int32{1, 2, 3})
	if got := fmt.Sprint(r); got != "ctypes.RawArray[int32](anonymous, len 3: [1 2 3])" {
		t.Errorf("RawArray: %q", got)
	}
	_ = r.Close()
	if got := fmt.Sprint(r); got != "ctypes.RawArray[int32](anonymous, closed)" {
		t.Errorf("RawArray closed: %q", got)
	}

	m, err := ctypes.NewMapOf[int64, float64](ctypes.MapConfig{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Set(1, 1.5); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(m); !strings.HasPrefix(got, "ctypes.MapOf[int64,float64](anonymous, 1 of ") {
		t.Errorf("MapOf: %q", got)
	}
}
