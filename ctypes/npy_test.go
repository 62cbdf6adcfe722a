package ctypes

import (
	"reflect"
	"strings"
	"testing"
)

func TestNpyHeader(t *testing.T) {
	type pt struct {
		X   float64
		Tag [3]uint8
		N   int32
	}
	for _, c := range []struct {
		typ    reflect.Type
		n      int
		scalar bool
		want   string
	}{
		{reflect.TypeFor[float64](), 1000, false, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }"},
		{reflect.TypeFor[int32](), 1, true, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }"},
		{reflect.TypeFor[[3]float32](), 5, false, "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }"},
		{reflect.TypeFor[pt](), 2, false, "{'descr': [('X', '<f8'), ('Tag', '|u1', (3,)), ('', '|V1'), ('N', '<i4')], 'fortran_order': False, 'shape': (2,), }"},
	} {
		h, err := npyHeader(c.typ, c.n, c.scalar)
		if err != nil {
			t.Fatal(err)
		}
		if len(h)%64 != 0 || h[len(h)-1] != '\n' || !strings.Contains(string(h), c.want) {
			t.Errorf("%v: %q", c.typ, h)
		}
		if n, err := npyLen(h); err != nil || n != len(h) {
			t.Errorf("npyLen of its own header: %d %v", n, err)
		}
	}
}

// FuzzNpyHeader: whatever a file holds where a .npy header should be, reading it is an error
// or a header, never a panic.
func FuzzNpyHeader(f *testing.F) {
	h, _ := npyHeader(reflect.TypeFor[float64](), 10, false)
	f.Add(h)
	f.Add([]byte("\x93NUMPY\x01\x00\xff\xff{'descr'"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := npyLen(b); err == nil {
			_ = npyDescr(b[:n])
			_ = npyShape(string(b[:n]))
			_, _ = npyFirstDim(b[:n])
		}
	})
}
