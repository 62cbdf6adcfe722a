package shm_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

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
		if _, err := os.Stat(shm.Dir + "/" + name); err == nil {
			t.Errorf("size %d left a file behind", size)
		}
		if _, err := shm.Anonymous(size); !errors.Is(err, shm.ErrInvalidSize) {
			t.Errorf("Anonymous size %d: %v, want ErrInvalidSize", size, err)
		}
	}
	if _, err := shm.Create(testmain.Name(t), 4096, shm.Kind("spaces are bad")); !errors.Is(err, shm.ErrInvalidKind) {
		t.Errorf("bad kind: %v", err)
	}
}

func TestBeyondFreeSpace(t *testing.T) {
	name := testmain.Name(t)
	_, err := shm.Create(name, shm.MaxSize) // 1 TiB: more than any test machine's /dev/shm
	if !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("Create of 1 TiB: %v, want ErrNoSpace", err)
	}
	if !strings.Contains(err.Error(), "free") || !strings.Contains(err.Error(), "--shm-size") {
		t.Errorf("error does not say what is free and how to raise it: %v", err)
	}
	if _, err := os.Stat(shm.Dir + "/" + name); err == nil {
		t.Error("failed Create left a file behind")
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

// writeFile puts a hand-made file into the segment directory.
func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	name := testmain.Name(t)
	if err := os.WriteFile(shm.Dir+"/"+name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func headerOf(t *testing.T, size int) []byte {
	t.Helper()
	name := testmain.Name(t)
	s, err := shm.Create(name, size, shm.Kind("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := os.ReadFile(shm.Dir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenDamagedFiles(t *testing.T) {
	good := headerOf(t, 4096)
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, shm.ErrTruncated},
		{"short", good[:100], shm.ErrTruncated},
		{"truncated payload", good[:shm.HeaderSize+100], shm.ErrTruncated},
		{"longer than header says", append(bytes.Clone(good), make([]byte, 4096)...), shm.ErrSize},
		{"garbage", bytes.Repeat([]byte{0xA5}, 4096), shm.ErrBadMagic},
		{"zeros", make([]byte, 4096), shm.ErrBadMagic},
		{"bad checksum", mutate(func(b []byte) []byte { b[20] ^= 0xff; return b }), shm.ErrCorrupt},
		{"future version", mutate(func(b []byte) []byte { b[8] = 2; return b }), shm.ErrVersion},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := writeFile(t, c.data)
			_, err := shm.Open(name)
			if !errors.Is(err, c.want) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error does not name the segment: %v", err)
			}
		})
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
	if _, err := shm.Stat(s.Name()); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("after Close then Unlink the name is still there: %v", err)
	}
	if err := s.Unlink(); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("second Unlink: %v, want ErrNotExist", err)
	}
}

func TestUnlinkOnlyItsOwnName(t *testing.T) {
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

func TestPerm(t *testing.T) {
	name := testmain.Name(t)
	s, err := shm.Create(name, 4096, shm.Perm(0o640))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(shm.Dir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}
	s2, err := shm.Create(testmain.Name(t), 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	fi, _ = os.Stat(shm.Dir + "/" + s2.Name())
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("default mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestListDescribesSegments(t *testing.T) {
	name, raw := testmain.Name(t), testmain.Name(t)
	s, err := shm.Create(name, 5000, shm.Kind("test.list"), shm.Layout("list/v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := shm.Create(raw, 3000, shm.Raw())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	foreign := writeFile(t, []byte("not ours"))
	all, err := shm.List()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]shm.Info{}
	for _, i := range all {
		byName[i.Name] = i
	}
	i, ok := byName[name]
	if !ok || i.Kind != "test.list" || i.Size != 5000 || i.FileSize != 5000+shm.HeaderSize ||
		i.CreatorPID != os.Getpid() || !i.Ready || i.Stale || i.Fingerprint != shm.Fingerprint("list/v1") ||
		!slices.Contains(i.Attached, os.Getpid()) {
		t.Errorf("List entry: %+v", i)
	}
	if i, ok := byName[raw]; !ok || !i.Raw || i.Size != 3000 || i.Stale {
		t.Errorf("Raw entry: %+v (listed %v)", i, ok)
	}
	if _, ok := byName[foreign]; ok {
		t.Error("a file that is not shmkit's was listed")
	}
}

func TestOpenFDValidates(t *testing.T) {
	s, err := shm.Anonymous(4096, shm.Kind("test.anon"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fd, err := dup(s.Fd())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shm.OpenFD(fd, shm.Kind("other")); !errors.Is(err, shm.ErrKind) {
		t.Fatalf("OpenFD with wrong kind: %v", err)
	}
	fd, _ = dup(s.Fd())
	o, err := shm.OpenFD(fd, shm.Kind("test.anon"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	s.Bytes()[9] = 9
	if o.Bytes()[9] != 9 {
		t.Fatal("OpenFD mapping does not share memory")
	}
}

// A Trailer segment's file starts with the payload and ends with the header, on a 128-byte
// boundary; Open, Stat and Remove find the header there by themselves.
func TestTrailerSegment(t *testing.T) {
	name := testmain.Name(t)
	s, err := shm.Create(name, 1000, shm.Trailer(), shm.Kind("test.trailer"), shm.Layout("trailer/v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Size() != 1000 || s.PayloadOffset() != 0 {
		t.Fatalf("size %d, payload at %d", s.Size(), s.PayloadOffset())
	}
	copy(s.Bytes(), "payload first")
	file, err := os.ReadFile(shm.Dir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if len(file) != 1024+shm.HeaderSize || string(file[:13]) != "payload first" || string(file[1024:1030]) != "SHMKIT" {
		t.Fatalf("file of %d bytes starting %q, header at 1024 %q", len(file), file[:13], file[1024:1030])
	}
	o, err := shm.Open(name, shm.Kind("test.trailer"), shm.Layout("trailer/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Size() != 1000 || string(o.Bytes()[:13]) != "payload first" || o.PayloadOffset() != 0 {
		t.Fatalf("reopened: %d bytes, %q", o.Size(), o.Bytes()[:13])
	}
	_ = o.Close()
	if _, err := shm.Open(name, shm.Layout("trailer/v2")); !errors.Is(err, shm.ErrFingerprint) {
		t.Fatalf("another layout: %v", err)
	}
	if info, err := shm.Stat(name); err != nil || info.Size != 1000 || info.Kind != "test.trailer" || info.Problem != "" {
		t.Fatalf("Stat: %+v %v", info, err)
	}
	a, err := shm.Anonymous(64, shm.Trailer())
	if err != nil {
		t.Fatal(err)
	}
	if a.Size() != 64 || a.PayloadOffset() != 0 {
		t.Fatalf("anonymous trailer: %d at %d", a.Size(), a.PayloadOffset())
	}
	_ = a.Close()
	_ = s.Close()
	if err := shm.Remove(name); err != nil {
		t.Fatalf("Remove of a Trailer segment: %v", err)
	}
}
