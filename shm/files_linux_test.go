package shm_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

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
