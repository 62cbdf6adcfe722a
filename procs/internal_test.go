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

func TestUnknownEntryInChild(t *testing.T) {
	p, err := startEntry(t.Context(), "no-such-entry", nil, reflect.ValueOf(struct{}{}))
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

var sleeper = Entry("procs.spareSleeper", func(ctx context.Context, d time.Duration) error {
	time.Sleep(d)
	return nil
})
