package prefetch

import "testing"

// TestWrite checks that the instruction runs and leaves memory alone.
func TestWrite(t *testing.T) {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	for i := 0; i < len(b); i += Chunk {
		Write(&b[i])
	}
	for i := range b {
		if b[i] != byte(i) {
			t.Fatalf("byte %d changed to %d", i, b[i])
		}
	}
}
