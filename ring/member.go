package ring

import (
	"errors"
	"fmt"

	"github.com/shmkit/shmkit/internal/member"
	"github.com/shmkit/shmkit/internal/pidinfo"
	"github.com/shmkit/shmkit/shm"
)

// self is this process's ID in member tables and end claims.
var self = pidinfo.SelfID()

// attachMember records this process in an object's member table for as long as it has seg
// open: Close of the segment (Detach, or procs closing a child's arguments at its exit) takes
// the entry back, so a process that detached and exited is not mistaken for a dead one.
func attachMember(seg *shm.Segment, t member.Table) error {
	i, err := t.Join(self)
	if err != nil {
		if errors.Is(err, member.ErrFull) {
			return fmt.Errorf("%w: %v", ErrTooMany, err)
		}
		return err
	}
	if !seg.OnClose(func() { t.Leave(i, self) }) {
		t.Leave(i, self)
		return ErrClosed
	}
	return nil
}

// expectMember reserves an entry for a child about to attach (shm.Expecter).
func expectMember(t member.Table, pid int) error {
	id, err := member.IDOf(pid)
	if err == nil {
		err = t.Expect(id)
	}
	if errors.Is(err, member.ErrFull) {
		return fmt.Errorf("%w: %v", ErrTooMany, err)
	}
	return err
}
