//go:build !race

package ctypes

// A Map's readers copy a slot between two reads of its version (a seqlock), racing the writer
// on purpose: a copy that overlapped a write is thrown away. Without the race detector these
// are plain copies.

func loadBytes(dst, src []byte)  { copy(dst, src) }
func storeBytes(dst, src []byte) { copy(dst, src) }
