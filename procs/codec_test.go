package procs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
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
}

func sample() rich {
	seven := 7
	return rich{
		B: true, I: -123456789, I8: -8, U64: 1<<64 - 1, S: "héllo", Bytes: []byte{0, 1, 2},
		Empty: []int{}, Arr: [3]uint16{1, 2, 65535},
		M: map[string]inner{"a": {F: 1.5, C: 2 + 3i, P: &seven}},
		T: time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC), D: time.Minute,
		In: inner{F: -0.25}, Ptrs: []*inner{{F: 1}, nil},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	in := sample()
	b, err := marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out rich
	if err := unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) || !out.T.Equal(in.T) || out.Nil != nil || out.Empty == nil {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
}

func TestCodecRefusesWhatCannotTravel(t *testing.T) {
	type unexported struct{ x int }
	for _, v := range []any{
		struct{ F func() }{func() {}},
		struct{ C chan int }{make(chan int)},
		struct{ A any }{42},
		unexported{1},
		struct{ E error }{errors.New("x")},
	} {
		if _, err := marshal(v); err == nil {
			t.Errorf("%T encoded", v)
		}
	}
	type cyc struct{ Next *cyc }
	c := &cyc{}
	c.Next = c
	if _, err := marshal(c); err == nil {
		t.Error("a cycle encoded")
	}
}

// FuzzDecode: corrupt streams are errors, never panics or huge allocations.
func FuzzDecode(f *testing.F) {
	b, _ := marshal(sample())
	f.Add(b)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var out rich
		_ = unmarshal(data, &out)
		var spec launchSpec
		_ = unmarshal(data, &spec)
	})
}

func TestUnknownEntryInChild(t *testing.T) {
	p, err := startEntry(t.Context(), "no-such-entry", reflect.ValueOf(struct{}{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitContext(t.Context())
	if !errors.Is(err, ErrUnknownEntry) || !bytes.Contains([]byte(err.Error()), []byte("no-such-entry")) {
		t.Fatalf("%v, want ErrUnknownEntry naming the entry", err)
	}
}

func TestStartWithoutMain(t *testing.T) {
	ep := &EntryPoint[int]{name: "x"}
	mainCalled.Store(false)
	defer mainCalled.Store(true)
	if _, err := ep.Start(context.Background(), 1); !errors.Is(err, ErrNoMain) {
		t.Fatalf("%v, want ErrNoMain", err)
	}
}

var lateSeq atomic.Int64

func TestLateEntry(t *testing.T) {
	// A fresh name each run: -count=N runs this test N times in one process.
	late := Entry(fmt.Sprintf("procs.late-%d", lateSeq.Add(1)), func(context.Context, int) error { return nil })
	if _, err := late.Start(t.Context(), 1); !errors.Is(err, ErrLateEntry) {
		t.Fatalf("%v, want ErrLateEntry", err)
	}
}
