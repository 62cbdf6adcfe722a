package object

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/shmkit/shmkit/shm"
)

func spec(size int) Spec {
	return Spec{Kind: "test.Object", Layout: fmt.Sprintf("test.Object/v1 size=%d", size), Size: size,
		Init: func(b []byte) error { b[0] = 7; return nil }}
}

func TestLifecycle(t *testing.T) {
	name := fmt.Sprintf("t%d-object", os.Getpid())
	defer shm.Remove(name)
	if _, err := Open(spec(64), name, nil); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("Open of a free name: %v", err)
	}
	seg, err := Make(spec(64), name, nil)
	if err != nil || seg.Bytes()[0] != 7 {
		t.Fatalf("Make: %v", err)
	}
	var h Handle
	h.Bind(seg)
	if _, err := Make(spec(64), name, nil); !errors.Is(err, shm.ErrExist) {
		t.Fatalf("Make of a taken name: %v", err)
	}
	if _, err := Open(spec(128), name, nil); !errors.Is(err, shm.ErrFingerprint) && !errors.Is(err, shm.ErrSize) {
		t.Fatalf("Open with another layout: %v", err)
	}
	other, created, err := OpenOrCreate(spec(64), name, nil)
	if err != nil || created {
		t.Fatalf("OpenOrCreate of an existing name: %v %v", created, err)
	}
	_ = other.Close()
	if h.Closed() || h.Name() != name {
		t.Fatal("handle state")
	}
	if err := h.Close(); err != nil || !h.Closed() {
		t.Fatal(err)
	}
	if err := h.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := h.Unlink(); err != nil {
		t.Fatalf("Unlink after Close: %v", err)
	}
}

// Processes (here goroutines, each with its own mappings) racing to open-or-create one fresh
// name get one object: exactly one creates it. Each keeps its segment until all have theirs:
// on Windows a section ends with its last handle, so a creator that closed at once would let
// the next one create anew.
func TestOpenOrCreateRace(t *testing.T) {
	name := fmt.Sprintf("t%d-race", os.Getpid())
	defer shm.Remove(name)
	var wg sync.WaitGroup
	var mu sync.Mutex
	creators := 0
	var segs []*shm.Segment
	for range 8 {
		wg.Go(func() {
			seg, created, err := OpenOrCreate(spec(64), name, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			if created {
				creators++
			}
			segs = append(segs, seg)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, seg := range segs {
		_ = seg.Close()
	}
	if creators != 1 {
		t.Fatalf("%d creators", creators)
	}
}

func TestAt(t *testing.T) {
	b := make([]byte, 64)
	if _, err := At[uint64](b, 60, 8); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("past the end: %v", err)
	}
	if _, err := At[uint64](b, -8, 8); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("negative: %v", err)
	}
	for uintptr(unsafeAddr(b))%8 != 0 { // start on an 8-byte boundary
		b = b[1:]
	}
	if _, err := At[uint64](b, 4, 8); !errors.Is(err, ErrMisaligned) {
		t.Errorf("misaligned: %v", err)
	}
	if p, err := At[uint64](b, 8, 8); err != nil || p == nil {
		t.Errorf("aligned: %v", err)
	}
}
