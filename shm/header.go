package shm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// The header is the first HeaderSize bytes of every segment made without Raw. All fields are
// little-endian at fixed offsets, pinned by TestHeaderLayout; changing one is a new version.
//
//	0      8       12      16              24              32      36      40
//	+------+-------+-------+---------------+---------------+-------+-------+
//	|magic |version|hdrsize| payload size  | fingerprint   | pid   | flags |
//	+------+-------+-------+---------------+---------------+-------+-------+
//	40              48              56                              88
//	+---------------+---------------+-------------------------------+
//	| pid start     | created (ns)  | kind, NUL-padded ASCII        |
//	+---------------+---------------+-------------------------------+
//	88              96      100                                     128
//	+---------------+-------+---------------------------------------+
//	| checksum      | state | reserved (zero)                       |
//	+---------------+-------+---------------------------------------+
//
// Every field but state is written once by the creator, before state turns ready, and never
// again. checksum is xxhash64 of bytes [0, 88). state is the only word written after
// publication: initialising (0) → ready (1), by an atomic store, after the payload is set up.
type header struct {
	Magic       [8]byte  // 0: "SHMKIT\x00\x01"
	Version     uint32   // 8: headerVersion
	HeaderSize  uint32   // 12: HeaderSize
	PayloadSize uint64   // 16: bytes after the header
	Fingerprint uint64   // 24: xxhash64 of the layout descriptor (0: none given)
	CreatorPID  uint32   // 32: pid of the creator
	Flags       uint32   // 36: flagAnonymous, …
	CreatorTime uint64   // 40: creator's start time (clock ticks since boot on Linux), against pid reuse
	Created     int64    // 48: creation time, Unix nanoseconds
	Kind        [32]byte // 56: what the payload holds, e.g. "ring.Queue"; "" for a plain segment
	Checksum    uint64   // 88: xxhash64 of bytes [0, 88)
	State       uint32   // 96: stateInitialising → stateReady (atomic)
	_           [28]byte // 100: reserved, zero
}

// HeaderSize is the size of the header that precedes the payload of every non-Raw segment. The
// payload starts HeaderSize bytes into the mapping, so it is aligned to 128 bytes.
const HeaderSize = 128

const (
	headerVersion     = 1
	offChecksum       = 88
	offState          = 96
	maxKindLen        = 32
	stateInitialising = 0
	stateReady        = 1
	flagAnonymous     = 1 << 0
	flagTrailer       = 1 << 1 // the header follows the payload, at trailerAt(payload size)
)

var magic = [8]byte{'S', 'H', 'M', 'K', 'I', 'T', 0, 1}

// Compile-time check that the struct and the constant agree.
var _ [HeaderSize - unsafe.Sizeof(header{})]struct{}
var _ [unsafe.Sizeof(header{}) - HeaderSize]struct{}

// Fingerprint is the xxhash64 of a layout descriptor such as "ring.Queue/v1 slots=1024 slot=64".
// Two processes agree on a segment's layout exactly when their descriptors hash alike.
func Fingerprint(descriptor string) uint64 { return xxhash.Sum64String(descriptor) }

// encode writes h into b[:HeaderSize] with state initialising and a fresh checksum.
func (h *header) encode(b []byte) {
	_ = b[HeaderSize-1]
	clear(b[:HeaderSize])
	le := binary.LittleEndian
	copy(b[0:8], h.Magic[:])
	le.PutUint32(b[8:], h.Version)
	le.PutUint32(b[12:], h.HeaderSize)
	le.PutUint64(b[16:], h.PayloadSize)
	le.PutUint64(b[24:], h.Fingerprint)
	le.PutUint32(b[32:], h.CreatorPID)
	le.PutUint32(b[36:], h.Flags)
	le.PutUint64(b[40:], h.CreatorTime)
	le.PutUint64(b[48:], uint64(h.Created))
	copy(b[56:88], h.Kind[:])
	le.PutUint64(b[offChecksum:], xxhash.Sum64(b[:offChecksum]))
}

// parseHeader decodes and checks the fields that need no outside knowledge: magic, checksum,
// version, header size. It reads only b[:HeaderSize] and never panics, whatever b holds.
func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("%w: %d bytes, a header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	copy(h.Magic[:], b[0:8])
	if h.Magic != magic {
		return h, ErrBadMagic
	}
	h.Version = le.Uint32(b[8:])
	h.HeaderSize = le.Uint32(b[12:])
	h.PayloadSize = le.Uint64(b[16:])
	h.Fingerprint = le.Uint64(b[24:])
	h.CreatorPID = le.Uint32(b[32:])
	h.Flags = le.Uint32(b[36:])
	h.CreatorTime = le.Uint64(b[40:])
	h.Created = int64(le.Uint64(b[48:]))
	copy(h.Kind[:], b[56:88])
	h.Checksum = le.Uint64(b[offChecksum:])
	h.State = le.Uint32(b[offState:])
	if h.Version != headerVersion {
		return h, fmt.Errorf("%w: version %d, this build reads %d", ErrVersion, h.Version, headerVersion)
	}
	if sum := xxhash.Sum64(b[:offChecksum]); sum != h.Checksum {
		return h, fmt.Errorf("%w: checksum %#x, fields hash to %#x", ErrCorrupt, h.Checksum, sum)
	}
	if h.HeaderSize != HeaderSize {
		return h, fmt.Errorf("%w: header size %d, want %d", ErrCorrupt, h.HeaderSize, HeaderSize)
	}
	if h.PayloadSize == 0 || h.PayloadSize > MaxSize {
		return h, fmt.Errorf("%w: payload size %d out of range", ErrCorrupt, h.PayloadSize)
	}
	if k := h.kind(); !validKind(k) {
		return h, fmt.Errorf("%w: kind %q", ErrCorrupt, k)
	}
	return h, nil
}

func (h *header) kind() string {
	k, _, _ := bytes.Cut(h.Kind[:], []byte{0})
	return string(k)
}

// validKind accepts printable ASCII up to 32 bytes.
func validKind(k string) bool {
	if len(k) > maxKindLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// stateWord returns the header's state word inside a live mapping. Sound because b is the start
// of a page-aligned mapping at least HeaderSize long, so offset 96 is 4-byte aligned, and every
// process touches the word only through sync/atomic.
func stateWord(b []byte) *uint32 {
	return (*uint32)(unsafe.Pointer(&b[offState]))
}

func loadState(b []byte) uint32 { return atomic.LoadUint32(stateWord(b)) }
func publishReady(b []byte)     { atomic.StoreUint32(stateWord(b), stateReady) }
