package codec

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/shm"
)

type inner struct {
	F  float32
	C  complex128
	P  *int
	NP *int
}

type rich struct {
	B     bool
	I     int
	I8    int8
	U64   uint64
	S     string
	Bytes []byte
	Nil   []int
	Empty []int
	Arr   [3]uint16
	M     map[string]inner
	NilM  map[int]int
	T     time.Time
	D     time.Duration
	In    inner
	Ptrs  []*inner
	_     int
	Zero  struct{}
	Any   any
	Anys  []any
	Shape shape
}

type shape interface{ Area() float64 }

type square struct{ Side float64 }

func (s square) Area() float64 { return s.Side * s.Side }

type circle struct{ R float64 }

func (c *circle) Area() float64 { return math.Pi * c.R * c.R }

func init() {
	shm.RegisterType(square{})
	shm.RegisterType(&circle{})
}

func sample() rich {
	seven := 7
	return rich{
		B: true, I: -123456789, I8: -8, U64: 1<<64 - 1, S: "héllo", Bytes: []byte{0, 1, 2},
		Empty: []int{}, Arr: [3]uint16{1, 2, 65535},
		M: map[string]inner{"a": {F: 1.5, C: 2 + 3i, P: &seven}, "b": {}, "c": {F: -1}},
		T: time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC), D: time.Minute,
		In: inner{F: -0.25}, Ptrs: []*inner{{F: 1}, nil},
		Any: "a string in an any", Anys: []any{int64(1), "two", 3.0, []any{true, nil}, map[string]any{"k": []byte("v")}, square{2}},
		Shape: &circle{R: 1},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := Size(in); err != nil || n != len(b) {
		t.Fatalf("Size %d %v, Marshal wrote %d", n, err, len(b))
	}
	var out rich
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) || !out.T.Equal(in.T) || out.Nil != nil || out.Empty == nil {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	// Maps are written in key order: the same value encodes to the same bytes, every time.
	for range 20 {
		again, _ := Marshal(in)
		if !bytes.Equal(again, b) {
			t.Fatal("two encodings of one value differ")
		}
	}
}

func TestRefusesWhatCannotTravel(t *testing.T) {
	type unexported struct{ x int }
	type local struct{ N int }
	for _, c := range []struct {
		v    any
		path string
	}{
		{struct{ F func() }{func() {}}, ".F"},
		{struct{ C chan int }{make(chan int)}, ".C"},
		{struct{ A any }{local{1}}, ".A"}, // a concrete type nobody registered
		{unexported{1}, ".x"},
		{struct{ E error }{errors.New("x")}, ".E"},
		{struct{ In struct{ L []any } }{struct{ L []any }{[]any{1, make(chan int)}}}, ".In.L[1]"},
	} {
		_, err := Marshal(c.v)
		var ce *Error
		if !errors.Is(err, ErrEncode) || !errors.As(err, &ce) || !strings.HasPrefix(ce.Path, c.path) {
			t.Errorf("%T: %v, want ErrEncode at %s", c.v, err, c.path)
		}
	}
	type cyc struct{ Next *cyc }
	c := &cyc{}
	c.Next = c
	if _, err := Marshal(c); !errors.Is(err, ErrEncode) {
		t.Errorf("a cycle: %v", err)
	}
	var out struct{ S shape }
	b, _ := Marshal(struct{ S any }{42}) // an int where a shape is wanted
	if err := Unmarshal(b, &out); !errors.Is(err, ErrDecode) {
		t.Errorf("an int decoded into a shape: %v", err)
	}
}

// FuzzDecode: a corrupt stream is an error, never a panic or a huge allocation; and whatever
// decodes re-encodes to bytes that decode to the same value (decode, encode, decode: equal).
func FuzzDecode(f *testing.F) {
	b, _ := Marshal(sample())
	f.Add(b)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v1 rich
		if Unmarshal(data, &v1) != nil {
			return
		}
		e1, err := Marshal(v1)
		if err != nil {
			t.Fatalf("a decoded value does not encode: %v", err)
		}
		var v2 rich
		if err := Unmarshal(e1, &v2); err != nil {
			t.Fatalf("a re-encoded value does not decode: %v", err)
		}
		e2, err := Marshal(v2)
		if err != nil || !bytes.Equal(e1, e2) {
			t.Fatalf("decode, encode, decode, encode: the encodings differ (%v)", err)
		}
		// time.Time carries its zone as a *Location, a new one per decode: compare instants.
		if !v1.T.Equal(v2.T) || v1.T.Format(time.RFC3339Nano) != v2.T.Format(time.RFC3339Nano) {
			t.Fatalf("decode, encode, decode: times differ: %v, %v", v1.T, v2.T)
		}
		v1.T, v2.T = time.Time{}, time.Time{}
		if !hasNaN(v1) && !reflect.DeepEqual(v1, v2) {
			t.Fatalf("decode, encode, decode: values differ\n%+v\n%+v", v1, v2)
		}
	})
}

// hasNaN reports whether a NaN is reachable from v (DeepEqual never finds NaN equal to itself;
// the byte comparison above covers such values). It walks the value, since a NaN can hide
// behind a pointer that %v prints as an address.
func hasNaN(v rich) bool { return nanIn(reflect.ValueOf(v), map[uintptr]bool{}) }

func nanIn(v reflect.Value, seen map[uintptr]bool) bool {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.IsNaN(v.Float())
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return math.IsNaN(real(c)) || math.IsNaN(imag(c))
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return false
		}
		seen[v.Pointer()] = true
		return nanIn(v.Elem(), seen)
	case reflect.Interface:
		return !v.IsNil() && nanIn(v.Elem(), seen)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if nanIn(v.Index(i), seen) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if nanIn(it.Key(), seen) || nanIn(it.Value(), seen) {
				return true
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if nanIn(v.Field(i), seen) {
				return true
			}
		}
	}
	return false
}

// A NaN behind a pointer in an interface (the fuzzer found one in Shape) is still a NaN.
func TestHasNaNLooksBehindPointers(t *testing.T) {
	if hasNaN(sample()) {
		t.Fatal("the sample has no NaN")
	}
	v := sample()
	v.Shape = &circle{R: math.NaN()}
	if !hasNaN(v) {
		t.Fatal("a NaN inside *circle in an interface was not found")
	}
}
