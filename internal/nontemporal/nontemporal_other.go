//go:build !amd64

package nontemporal

import "unsafe"

// Available reports whether Record's stores are non-temporal here.
const Available = false

// Record is the amd64 Record with plain stores.
func Record(hdr *uint64, h uint64, src *byte, n uintptr, written *uint64, pos uint64) {
	words := (n + 7) / 8
	dst := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(hdr), 8)), words*8+8)
	clear(dst[copy(dst, unsafe.Slice(src, n)):])
	*hdr = h
	if written != nil {
		*written = pos
	}
}

// Fence does nothing here.
func Fence() {}
