package sem_test

import (
	"testing"

	"github.com/shmkit/shmkit/sem"
)

// Uncontended operations are atomics only: no allocation (and so no system call).
func TestUncontendedPathsDoNotAllocate(t *testing.T) {
	seg := newSegment(t, 256)
	m, s, e := at[sem.Mutex](t, seg, 0), at[sem.Semaphore](t, seg, 8), at[sem.Event](t, seg, 16)
	r := at[sem.RMutex](t, seg, 32)
	o := sem.NewOwner()
	_ = s.ReleaseN(1)
	_ = e.Set()
	if n := testing.AllocsPerRun(1000, func() {
		_ = m.Lock()
		_ = m.Unlock()
		_ = s.Acquire()
		_ = s.Release()
		_ = e.WaitContext(t.Context())
		_ = r.Lock(o)
		_ = r.Unlock(o)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
