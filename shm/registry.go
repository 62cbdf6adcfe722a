package shm

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/cespare/xxhash/v2"
)

// The registry maps this process's live payloads to their Segments, so an object placed in
// shared memory (a sem.Mutex, say) can find the segment it lives in when it is passed to
// another process. It holds weak pointers: a forgotten Segment is still collected.
var (
	regMu   sync.RWMutex
	regions []region // sorted by start, non-overlapping
)

type region struct {
	start, end uintptr // the payload's address range
	seg        weak.Pointer[Segment]
	ident      identity // names the segment for parking (see park)
}

func register(s *Segment) {
	if len(s.payload) == 0 {
		return
	}
	r := region{start: uintptr(unsafe.Pointer(&s.payload[0])), seg: weak.Make(s)}
	r.end = r.start + uintptr(len(s.payload))
	r.ident = s.identity()
	regMu.Lock()
	i, _ := slices.BinarySearchFunc(regions, r.start, func(x region, a uintptr) int { return cmpAddr(x.start, a) })
	regions = slices.Insert(regions, i, r)
	regMu.Unlock()
}

func unregister(payload []byte) {
	if len(payload) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(&payload[0]))
	regMu.Lock()
	var id uint64
	var located bool
	if i, ok := slices.BinarySearchFunc(regions, start, func(x region, a uintptr) int { return cmpAddr(x.start, a) }); ok {
		id, located = regions[i].ident.id()
		regions = slices.Delete(regions, i, i+1)
	}
	regMu.Unlock()
	if located {
		parkForget(id)
	}
}

// find returns the index of the region holding a, or -1. The caller holds regMu.
func find(a uintptr) int {
	i, found := slices.BinarySearchFunc(regions, a, func(x region, a uintptr) int { return cmpAddr(x.start, a) })
	if !found {
		i-- // the region starting before a, if any
	}
	if i >= 0 && i < len(regions) && a >= regions[i].start && a < regions[i].end {
		return i
	}
	return -1
}

// An identity is where a segment's ID comes from: its header's checksum (read when asked: a
// creator registers the segment before it writes the header), or a raw segment's name hashed.
type identity struct {
	sum   *uint64 // nil: raw
	named uint64  // a raw segment's name, hashed; 0: anonymous
}

func (s *Segment) identity() identity {
	switch {
	case !s.raw:
		at := 0 // a leading header, or a trailing one after a payload at the mapping's start
		if len(s.payload) > 0 && &s.payload[0] == &s.mapping[0] {
			at = int(trailerAt(int64(len(s.payload))))
		}
		// Sound: the checksum is 8-byte aligned in the mapping, which outlives every use.
		return identity{sum: (*uint64)(unsafe.Pointer(&s.mapping[at+offChecksum]))}
	case s.name != "":
		return identity{named: xxhash.Sum64String(s.name)}
	}
	return identity{}
}

// id is the segment's ID; ok is false for a raw anonymous segment, which has none.
func (i identity) id() (id uint64, ok bool) {
	if i.sum != nil {
		return atomic.LoadUint64(i.sum), true
	}
	return i.named, i.named != 0
}

// park names the word at a, in r, for sleepers that park on it where the kernel cannot key
// them by memory (Windows, package futex): the segment's identity, the same in every process
// (its header's checksum, which covers its creator and creation time, or a raw segment's
// name), and a's offset in the payload. ok is false for a raw anonymous segment.
func (r region) park(a uintptr) (id, off uint64, ok bool) {
	id, ok = r.ident.id()
	return id, uint64(a - r.start), ok
}

// parkKey is park for whichever region holds a.
func parkKey(a uintptr) (id, off uint64, ok bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	if i := find(a); i >= 0 {
		return regions[i].park(a)
	}
	return 0, 0, false
}

func cmpAddr(a, b uintptr) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Locate finds the open Segment whose payload holds p, and p's offset in that payload. Types
// that live in segments use it to build their Handle. It fails if p is in no open segment of
// this process.
func Locate(p unsafe.Pointer) (*Segment, int64, error) {
	a := uintptr(p)
	regMu.RLock()
	defer regMu.RUnlock()
	if i := find(a); i >= 0 {
		if s := regions[i].seg.Value(); s != nil && !s.closed.Load() {
			return s, int64(a - regions[i].start), nil
		}
	}
	return nil, 0, fmt.Errorf("shm: %#x is not in an open segment of this process: %w", a, ErrClosed)
}
