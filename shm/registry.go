package shm

import (
	"fmt"
	"slices"
	"sync"
	"unsafe"
	"weak"
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
}

func register(s *Segment) {
	if len(s.payload) == 0 {
		return
	}
	r := region{start: uintptr(unsafe.Pointer(&s.payload[0])), seg: weak.Make(s)}
	r.end = r.start + uintptr(len(s.payload))
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
	if i, ok := slices.BinarySearchFunc(regions, start, func(x region, a uintptr) int { return cmpAddr(x.start, a) }); ok {
		regions = slices.Delete(regions, i, i+1)
	}
	regMu.Unlock()
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
	i, found := slices.BinarySearchFunc(regions, a, func(x region, a uintptr) int { return cmpAddr(x.start, a) })
	if !found {
		i-- // the region starting before a, if any
	}
	if i >= 0 && i < len(regions) && a >= regions[i].start && a < regions[i].end {
		if s := regions[i].seg.Value(); s != nil && !s.closed.Load() {
			return s, int64(a - regions[i].start), nil
		}
	}
	return nil, 0, fmt.Errorf("shm: %#x is not in an open segment of this process: %w", a, ErrClosed)
}
