package shm_test

import (
	"runtime"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

// A slice into a segment whose Segment value became unreachable must stay usable: the
// garbage collector's safety net may close the file, never unmap the memory.
func TestBytesOutliveForgottenSegment(t *testing.T) {
	payload := func() []byte {
		s, err := shm.Create(testmain.Name(t), 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		return s.Bytes() // the Segment itself is dropped here
	}()
	anon := func() []byte {
		s, err := shm.Anonymous(1 << 16)
		if err != nil {
			t.Fatal(err)
		}
		return s.Bytes()
	}()
	for i := range 50 {
		runtime.GC()
		for _, b := range [][]byte{payload, anon} {
			b[i] = byte(i)
			b[len(b)-1-i] = byte(i)
			if b[i] != byte(i) || b[len(b)-1-i] != byte(i) {
				t.Fatal("the memory changed under us")
			}
		}
	}
}
