package ring_test

import (
	"runtime"
	"testing"

	"github.com/shmkit/shmkit/ring"
)

// A record from Next and space from Reserve are slices into the ring: kept alone while the
// Pipe, its ends and its segment are dropped and collected, they must stay usable.
func TestRecordsOutliveTheirPipeValue(t *testing.T) {
	space, record := func() ([]byte, []byte) {
		p, err := ring.NewPipe(ring.Capacity(4096))
		if err != nil {
			t.Fatal(err)
		}
		w, r := ends(t, p)
		if err := w.Send([]byte("a record")); err != nil {
			t.Fatal(err)
		}
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		buf, err := w.Reserve(100)
		if err != nil {
			t.Fatal(err)
		}
		return buf, rec
	}()
	for i := range 30 {
		runtime.GC()
		space[i] = byte(i)
		if string(record) != "a record" || space[i] != byte(i) {
			t.Fatal("the ring's memory changed under us")
		}
	}
}
