package shm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// TestHeaderLayout pins every header offset: changing one is a new layout version.
func TestHeaderLayout(t *testing.T) {
	var h header
	for _, c := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"Magic", unsafe.Offsetof(h.Magic), 0},
		{"Version", unsafe.Offsetof(h.Version), 8},
		{"HeaderSize", unsafe.Offsetof(h.HeaderSize), 12},
		{"PayloadSize", unsafe.Offsetof(h.PayloadSize), 16},
		{"Fingerprint", unsafe.Offsetof(h.Fingerprint), 24},
		{"CreatorPID", unsafe.Offsetof(h.CreatorPID), 32},
		{"Flags", unsafe.Offsetof(h.Flags), 36},
		{"CreatorTime", unsafe.Offsetof(h.CreatorTime), 40},
		{"Created", unsafe.Offsetof(h.Created), 48},
		{"Kind", unsafe.Offsetof(h.Kind), 56},
		{"Checksum", unsafe.Offsetof(h.Checksum), offChecksum},
		{"State", unsafe.Offsetof(h.State), offState},
		{"sizeof", unsafe.Sizeof(h), HeaderSize},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.name, c.got, c.want)
		}
	}
	if offChecksum != 88 || offState != 96 {
		t.Errorf("checksum/state offsets moved: %d/%d", offChecksum, offState)
	}
}

func validHeader() []byte {
	h := header{Magic: magic, Version: headerVersion, HeaderSize: HeaderSize, PayloadSize: 4096,
		Fingerprint: Fingerprint("test/v1"), CreatorPID: 42, CreatorTime: 7, Created: 1}
	copy(h.Kind[:], "test.Kind")
	b := make([]byte, HeaderSize)
	h.encode(b)
	return b
}

func TestHeaderRoundTrip(t *testing.T) {
	b := validHeader()
	h, err := parseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.kind() != "test.Kind" || h.PayloadSize != 4096 || h.CreatorPID != 42 || h.State != stateInitialising {
		t.Fatalf("round trip: %+v", h)
	}
	publishReady(b)
	if h, _ := parseHeader(b); h.State != stateReady {
		t.Fatal("state not ready after publishReady")
	}
}

func TestHeaderRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(b []byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:64] }, ErrTruncated},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrBadMagic},
		{"version", func(b []byte) []byte { b[8] = 9; return b }, ErrVersion},
		{"checksum", func(b []byte) []byte { b[20] ^= 1; return b }, ErrCorrupt},
		{"kind", func(b []byte) []byte { b[60] = 0x01; return resum(b) }, ErrCorrupt},
		{"zero payload", func(b []byte) []byte { clear(b[16:24]); return resum(b) }, ErrCorrupt},
		{"header size", func(b []byte) []byte { b[12] = 64; return resum(b) }, ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseHeader(c.mut(validHeader()))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// resum recomputes the checksum so a test reaches the checks after it.
func resum(b []byte) []byte {
	binary.LittleEndian.PutUint64(b[offChecksum:], xxhash.Sum64(b[:offChecksum]))
	return b
}

// FuzzParseHeader: whatever the bytes, parseHeader returns a header or an error, never a panic,
// and anything it accepts re-encodes to the same bytes.
func FuzzParseHeader(f *testing.F) {
	f.Add(validHeader())
	f.Add(make([]byte, HeaderSize))
	f.Add([]byte("SHMKIT\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		out := make([]byte, HeaderSize)
		h.encode(out)
		if !bytes.Equal(out[:offChecksum+8], b[:offChecksum+8]) {
			t.Fatalf("accepted header does not re-encode to itself")
		}
	})
}

// A trailing header is found after page padding too (a Windows section is a whole number of
// pages): the last 64 KiB are searched on 128-byte boundaries for a header that trails a
// payload ending just there.
func TestFindTrailerBehindPadding(t *testing.T) {
	m := make([]byte, 1024+HeaderSize+3000)
	h := header{Magic: magic, Version: headerVersion, HeaderSize: HeaderSize, PayloadSize: 1000, Flags: flagTrailer}
	h.encode(m[1024:])
	if got := findHeader(m); len(got) == 0 || &got[0] != &m[1024] {
		t.Fatal("the trailing header was not found behind the padding")
	}
	wrong := make([]byte, 4096)
	h.PayloadSize = 10 // says it ends at 128, not at 1024
	h.encode(wrong[1024:])
	if got := findHeader(wrong); &got[0] != &wrong[0] {
		t.Fatal("a header whose payload does not end where it sits was taken")
	}
}
