package procs_test

import (
	"context"
	"errors"
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
