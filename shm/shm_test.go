package shm_test

import (
	"bytes"
	"errors"
	"io/fs"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

func TestCreateOpenInProcess(t *testing.T) {
	name := testmain.Name(t)
	a, err := shm.Create(name, 10000, shm.Kind("test.kind"), shm.Layout("test/v1 n=10000"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := shm.Open(name, shm.Kind("test.kind"), shm.Layout("test/v1 n=10000"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Size() != 10000 || b.Size() != 10000 || b.Name() != name || b.Kind() != "test.kind" {
		t.Fatalf("sizes %d/%d name %q kind %q", a.Size(), b.Size(), b.Name(), b.Kind())
	}
	copy(a.Bytes(), "through one mapping")
	if !bytes.HasPrefix(b.Bytes(), []byte("through one mapping")) {
		t.Fatal("second mapping does not see the first's write")
	}
	if uintptr(len(a.Bytes())) != 10000 || cap(a.Bytes()) != 10000 {
		t.Fatalf("payload len %d cap %d", len(a.Bytes()), cap(a.Bytes()))
	}
}

func TestInvalidNames(t *testing.T) {
	for _, name := range []string{"", "/", "a/b", ".", "..", "nul\x00x", strings.Repeat("n", 31), "naïve", "sp ace", "/dev/shm/x", "-rf", "--", ".hidden", ".shmkit-tmp-1-2"} {
		if _, err := shm.Create(name, 4096); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Create(%q): %v, want ErrInvalidName", name, err)
		}
		if _, err := shm.Open(name); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Open(%q): %v, want ErrInvalidName", name, err)
		}
		if err := shm.Remove(name); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Remove(%q): %v, want ErrInvalidName", name, err)
		}
	}
	if err := shm.ValidateName(strings.Repeat("n", 30)); err != nil {
		t.Errorf("30-byte name rejected: %v", err)
	}
}

func TestInvalidSizes(t *testing.T) {
	for _, size := range []int{0, -1, shm.MaxSize + 1} {
		name := testmain.Name(t)
		if _, err := shm.Create(name, size); !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("Create size %d: %v, want ErrInvalidSize", size, err)
		}
		if _, err := shm.Open(name); !errors.Is(err, shm.ErrNotExist) {
			t.Errorf("size %d left a segment behind: Open says %v", size, err)
		}
		if _, err := shm.Anonymous(size); !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("Anonymous size %d: %v, want ErrInvalidSize", size, err)
		}
	}
	if _, err := shm.Create(testmain.Name(t), 4096, shm.Kind("spaces are bad")); !errors.Is(err, shm.ErrInvalidKind) {
		t.Errorf("bad kind: %v", err)
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := shm.Open(testmain.Name(t))
	if !errors.Is(err, shm.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%v, want ErrNotExist", err)
	}
}

func TestCreateExistingLeavesItIntact(t *testing.T) {
	name := testmain.Name(t)
	a, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	copy(a.Bytes(), "original")
	if _, err := shm.Create(name, 8192); !errors.Is(err, shm.ErrExist) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("%v, want ErrExist", err)
	}
	b, err := shm.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != 4096 || !bytes.HasPrefix(b.Bytes(), []byte("original")) {
		t.Fatal("the failed Create disturbed the existing segment")
	}
}

func TestOpenMismatches(t *testing.T) {
	name := testmain.Name(t)
	s, err := shm.Create(name, 4096, shm.Kind("ring.Queue"), shm.Layout("ring.Queue/v1 slots=64"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	copy(s.Bytes(), "keep")
	for _, c := range []struct {
		opts []shm.Option
		want error
	}{
		{[]shm.Option{shm.Kind("sem.Mutex")}, shm.ErrKind},
		{[]shm.Option{shm.Layout("ring.Queue/v1 slots=128")}, shm.ErrFingerprint},
	} {
		_, err := shm.Open(name, c.opts...)
		if !errors.Is(err, c.want) {
			t.Errorf("%v, want %v", err, c.want)
		}
		if !strings.Contains(err.Error(), "ring.Queue") && c.want == shm.ErrKind {
			t.Errorf("error does not name both sides: %v", err)
		}
	}
	if !bytes.HasPrefix(s.Bytes(), []byte("keep")) {
		t.Fatal("a failed Open changed the segment")
	}
}

func TestUseAfterClose(t *testing.T) {
	s, err := shm.Create(testmain.Name(t), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Bytes() != nil {
		t.Error("Bytes after Close is not nil")
	}
	if err := s.Close(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := s.ShareHandle(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("ShareHandle after Close: %v, want ErrClosed", err)
	}
	// CPython's order, close then unlink, and the package doc's deferred pair: both must work.
	if err := s.Unlink(); err != nil {
		t.Errorf("Unlink after Close: %v", err)
	}
	if _, err := named(s.Name()); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("after Close then Unlink the name is still there: %v", err)
	}
	// A Windows section has no name to remove: Unlink is a no-op there, the second one too.
	if err := s.Unlink(); runtime.GOOS != "windows" && !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("second Unlink: %v, want ErrNotExist", err)
	}
}

func TestUnlinkOnlyItsOwnName(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a Windows section has no name to unlink: it keeps it while any handle is open")
	}
	name := testmain.Name(t)
	old, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.Unlink(); err != nil {
		t.Fatal(err)
	}
	newer, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	if err := old.Unlink(); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("Unlink of a name now taken by another segment: %v, want ErrNotExist", err)
	}
	if _, err := shm.Stat(name); err != nil {
		t.Fatalf("the newer segment was harmed: %v", err)
	}
}

func TestInitFailureRemovesSegment(t *testing.T) {
	name := testmain.Name(t)
	boom := errors.New("boom")
	_, err := shm.Create(name, 4096, shm.Init(func([]byte) error { return boom }))
	if !errors.Is(err, boom) {
		t.Fatalf("%v, want the Init error", err)
	}
	if _, err := shm.Open(name); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("segment survived a failed Init: %v", err)
	}
}

// named is shm.Stat where segments can be inspected. On Windows, where they cannot (Stat is
// ErrNotSupported), it opens the name, since a section's name lives exactly while a handle
// to it is open, and reports just the name and whether it is ready.
func named(name string) (shm.Info, error) {
	if runtime.GOOS != "windows" {
		return shm.Stat(name)
	}
	s, err := shm.Open(name, shm.Timeout(time.Millisecond))
	if err != nil {
		return shm.Info{Name: name}, err
	}
	return shm.Info{Name: name, Ready: true}, s.Close()
}
