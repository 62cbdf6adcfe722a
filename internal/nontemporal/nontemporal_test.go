package nontemporal

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"
)

// TestRecord writes records of every length up to 80 bytes at every 8-byte offset of a buffer
// full of 0xff and checks each byte: the header, the payload, its padding zeroed, the next
// header zeroed, nothing past it touched, and written stored (or, at one offset, no written
// word given).
func TestRecord(t *testing.T) {
	src := make([]byte, 80)
	for i := range src {
		src[i] = byte(i + 1)
	}
	for n := range len(src) + 1 {
		for at := 0; at < 32; at += 8 {
			buf := make([]uint64, 24)
			for i := range buf {
				buf[i] = ^uint64(0)
			}
			b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*8)
			var written uint64
			var s *byte
			if n > 0 {
				s = &src[len(src)-n] // ending at the end of src: the last word is read in place
			}
			wp := &written
			if at == 8 {
				wp = nil
			}
			Record((*uint64)(unsafe.Pointer(&b[at])), 0x1234_0000_0000|uint64(n), s, uintptr(n), wp, uint64(n+1))
			Fence()
			padded := (n + 7) &^ 7
			want := bytes.Repeat([]byte{0xff}, len(b))
			binary.LittleEndian.PutUint64(want[at:], 0x1234_0000_0000|uint64(n))
			copy(want[at+8:], src[len(src)-n:])
			clear(want[at+8+n : at+8+padded+8])
			if !bytes.Equal(b, want) {
				t.Fatalf("n=%d at=%d:\n got %x\nwant %x", n, at, b, want)
			}
			if wp != nil && written != uint64(n+1) {
				t.Fatalf("n=%d: written %d", n, written)
			}
		}
	}
}
