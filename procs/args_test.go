package procs_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

type badArgs struct {
	Seg *shm.Segment
	Fn  func()
}

var takesBad = procs.Entry("procs.bad", func(context.Context, badArgs) error { return nil })

type segArgs struct{ Seg *shm.Segment }

var touch = procs.Entry("procs.touch", func(_ context.Context, a segArgs) error {
	a.Seg.Bytes()[0]++
	return nil
})

func TestArgumentThatCannotBeEncoded(t *testing.T) {
	s, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := len(procs.ActiveChildren())
	_, err = takesBad.Start(t.Context(), badArgs{Seg: s, Fn: func() {}})
	if !errors.Is(err, procs.ErrEncode) {
		t.Fatalf("%v, want ErrEncode", err)
	}
	if len(procs.ActiveChildren()) != before {
		t.Fatal("a child was started anyway")
	}
}

func TestClosedSegmentCannotTravel(t *testing.T) {
	s, err := shm.Create(testmain.Name(t), 4096)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := touch.Start(t.Context(), segArgs{Seg: s}); !errors.Is(err, procs.ErrEncode) {
		t.Fatalf("%v, want ErrEncode", err)
	}
}

func TestChildCannotAttachRemovedSegment(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows sections have no unlink: one stays attachable while any handle to it is open")
	}
	s, err := shm.Create(testmain.Name(t), 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Bytes()[0] = 41
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	err = touch.Run(t.Context(), segArgs{Seg: s})
	if !errors.Is(err, procs.ErrArgs) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("%v, want ErrArgs", err)
	}
	if s.Bytes()[0] != 41 {
		t.Fatal("the failed child changed the parent's data")
	}
}

type job struct {
	Name  string
	Score float64
}

func init() { shm.RegisterType(job{}) }

type anyArgs struct {
	Items []any // as Python's args=(...) of any picklable values
	Named map[string]any
	Back  *shm.Segment
}

// anyEcho checks what arrived inside the interfaces and writes its verdict into Back.
var anyEcho = procs.Entry("procs.anyEcho", func(_ context.Context, a anyArgs) error {
	j, ok := a.Items[2].(job)
	switch {
	case len(a.Items) != 4 || a.Items[0] != int64(42) || a.Items[1] != "forty-two" || a.Items[3] != nil:
		return fmt.Errorf("items arrived as %#v", a.Items)
	case !ok || j.Name != "fit" || j.Score != 0.5:
		return fmt.Errorf("the registered type arrived as %#v", a.Items[2])
	case a.Named["xs"].([]float64)[1] != 2.5:
		return fmt.Errorf("map arrived as %#v", a.Named)
	}
	a.Back.Bytes()[0] = 1
	return nil
})

// Any Go value travels, as Python's send(obj) and put(obj): interfaces carry their concrete
// type's registered name, as gob's do.
func TestInterfaceValuesTravel(t *testing.T) {
	back, err := shm.Anonymous(64)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	args := anyArgs{
		Items: []any{int64(42), "forty-two", job{"fit", 0.5}, nil},
		Named: map[string]any{"xs": []float64{1, 2.5}},
		Back:  back,
	}
	if err := anyEcho.Run(t.Context(), args); err != nil {
		t.Fatal(err)
	}
	if back.Bytes()[0] != 1 {
		t.Fatal("the child did not see what was sent")
	}
	type unregistered struct{ N int }
	_, err = anyEcho.Start(t.Context(), anyArgs{Items: []any{unregistered{1}}, Back: back})
	if !errors.Is(err, procs.ErrEncode) || !strings.Contains(err.Error(), "args.Items[0]") || !strings.Contains(err.Error(), "RegisterType") {
		t.Fatalf("an unregistered type inside an interface: %v", err)
	}
}
