//go:build race

package ctypes

import (
	"sync/atomic"
	"unsafe"
)

// Under the race detector a seqlock's deliberate overlap of reader and writer would be reported,
// so the copies go word by word through sync/atomic. Key and value areas start on 8-byte
// boundaries and are whole words long (mapStride), so the word loop never leaves its area.

func loadBytes(dst, src []byte) {
	var w [8]byte
	for i := 0; i < len(dst); i += 8 {
		*(*uint64)(unsafe.Pointer(&w[0])) = atomic.LoadUint64((*uint64)(unsafe.Pointer(&src[i])))
		copy(dst[i:], w[:])
	}
}

func storeBytes(dst, src []byte) {
	var w [8]byte
	for i := 0; i < len(src); i += 8 {
		clear(w[:])
		copy(w[:], src[i:])
		atomic.StoreUint64((*uint64)(unsafe.Pointer(&dst[i])), *(*uint64)(unsafe.Pointer(&w[0])))
	}
}
