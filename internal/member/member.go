// Package member keeps the list of processes attached to a shared object, in the object's own
// shared memory, so a process waiting on the object can tell "nobody can ever answer" (every
// other process that had it died without detaching) from "nobody has answered yet".
//
// A Table is an array of 32-bit words in shared memory, each one of:
//
//	0                      free
//	id                     attached: the pidinfo.ID of a process that has the object open
//	id | Expected          reserved for a child that is about to attach (procs writes it
//	                       between the child's exec and the moment it hands over the argument)
//
// Every attach takes one entry (a process that attaches an object twice holds two) and every
// detach frees one, so a process that exits after detaching leaves nothing; one that is killed
// leaves an entry whose process is dead, and that is how its death is seen. A child killed
// before it attached leaves its reserved entry the same way. Entries of dead processes are
// reused only when the table has no free entry left.
//
// Every word is read and written with atomics; the table needs 4-byte alignment.
package member

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/pidinfo"
)

// Expected marks an entry reserved for a process that has not attached yet. pidinfo.ID leaves
// bits 30 and 31 free.
const Expected = 1 << 31

// ErrFull is returned when every entry holds a live process.
var ErrFull = errors.New("too many processes attached")

// A Table is the member list of one shared object.
type Table []uint32

// At returns the table of n entries at b[off:], which must be 4-byte aligned and in range
// (the caller's layout guarantees both).
func At(b []byte, off, n int) Table {
	_ = b[off+4*n-1]
	// Sound: the range is checked above; the caller's layout puts off on a 4-byte boundary of
	// a mapping that outlives the Table.
	return Table(unsafe.Slice((*uint32)(unsafe.Pointer(&b[off])), n))
}

// Join records process id as attached and returns its entry. It adopts an entry reserved for
// id by Expect, else takes a free one, else one whose process is dead; ErrFull if none.
func (t Table) Join(id pidinfo.ID) (int, error) {
	want := uint32(id)
	for i := range t {
		if atomic.LoadUint32(&t[i]) == want|Expected && atomic.CompareAndSwapUint32(&t[i], want|Expected, want) {
			return i, nil
		}
	}
	return t.take(want)
}

// Expect reserves an entry for process id, which is about to attach: if it dies first, its
// entry shows it.
func (t Table) Expect(id pidinfo.ID) error {
	_, err := t.take(uint32(id) | Expected)
	return err
}

func (t Table) take(w uint32) (int, error) {
	for i := range t {
		if atomic.LoadUint32(&t[i]) == 0 && atomic.CompareAndSwapUint32(&t[i], 0, w) {
			return i, nil
		}
	}
	for i := range t {
		if old := atomic.LoadUint32(&t[i]); !alive(old) && atomic.CompareAndSwapUint32(&t[i], old, w) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: all %d entries hold live processes", ErrFull, len(t))
}

// Leave frees entry i, which Join returned for id. It does nothing if the entry holds another
// process by now (it was taken as dead, which a live process's entry never is).
func (t Table) Leave(i int, id pidinfo.ID) {
	if i >= 0 && i < len(t) {
		atomic.CompareAndSwapUint32(&t[i], uint32(id), 0)
	}
}

// Orphaned reports whether self is left alone with the dead: no other process holds an entry
// and is alive, and at least one entry belongs to a process that died without detaching. Then
// nothing another process was to do with the object will happen. It reads each entry's process
// state, so it is for a sleeper's periodic check, not a hot path.
func (t Table) Orphaned(self pidinfo.ID) bool {
	dead := false
	for i := range t {
		w := atomic.LoadUint32(&t[i])
		if w == 0 || w&^Expected == uint32(self) {
			continue
		}
		if alive(w) {
			return false
		}
		dead = true
	}
	return dead
}

// Used returns the entries in use, live or not: a count with no system call.
func (t Table) Used() int {
	n := 0
	for i := range t {
		if atomic.LoadUint32(&t[i]) != 0 {
			n++
		}
	}
	return n
}

// Count returns the entries in use, live or not, and how many belong to dead processes.
func (t Table) Count() (used, dead int) {
	for i := range t {
		if w := atomic.LoadUint32(&t[i]); w != 0 {
			used++
			if !alive(w) {
				dead++
			}
		}
	}
	return used, dead
}

func alive(w uint32) bool { return w != 0 && pidinfo.ID(w&^Expected).Alive() }

// IDOf returns the ID of the running process pid.
func IDOf(pid int) (pidinfo.ID, error) {
	start, err := pidinfo.StartTime(pid)
	if err != nil && !errors.Is(err, pidinfo.ErrNotSupported) {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return pidinfo.MakeID(pid, start), nil
}
