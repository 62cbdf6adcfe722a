package sem_test

import (
	"runtime"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// Every way to get a pointer into shared memory from this package, kept alone while
// everything else is dropped and collected: using it must not fault.
func TestPointersOutliveTheirSegmentValue(t *testing.T) {
	placed := func() *sem.Mutex {
		seg, err := shm.Anonymous(sem.Sizeof[sem.Mutex]())
		if err != nil {
			t.Fatal(err)
		}
		m, err := sem.At[sem.Mutex](seg.Bytes(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}()
	name := testmain.Name(t)
	named := func() *sem.Mutex {
		n, err := sem.CreateMutex(name)
		if err != nil {
			t.Fatal(err)
		}
		return n.Mutex() // the SharedMutex, and its segment, are dropped
	}()
	event := func() *sem.Event {
		n, err := sem.NewEvent()
		if err != nil {
			t.Fatal(err)
		}
		return n.Event()
	}()
	for range 30 {
		runtime.GC()
		for _, m := range []*sem.Mutex{placed, named} {
			if err := m.Lock(); err != nil {
				t.Fatal(err)
			}
			if err := m.Unlock(); err != nil {
				t.Fatal(err)
			}
		}
		if err := event.Set(); err != nil || !event.IsSet() {
			t.Fatal(err)
		}
		_ = event.Clear()
	}
}
