package ring

import (
	"errors"

	"github.com/shmkit/shmkit/shm"
)

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrClosed: the pipe or queue was closed (for a reader: after everything was drained), or
	// this end was. It is shm.ErrClosed (fs.ErrClosed).
	ErrClosed = shm.ErrClosed
	// ErrTooLarge: a message longer than the pipe's MaxRecord or the queue's slot size. Nothing
	// is truncated and nothing is sent.
	ErrTooLarge = errors.New("ring: message too large")
	// ErrPeerGone: nothing can come any more: the process holding the other end of a pipe died,
	// or (for a pipe end nobody has claimed, and for a queue) every other process that had the
	// object attached is gone and at least one of them died without detaching. A blocked call
	// returns this instead of waiting for ever. A process that detached (or a procs child whose
	// entry returned) has left, not died.
	ErrPeerGone = errors.New("ring: peer process gone")
	// ErrBusy: the pipe's writer (or reader) end is held by another live process.
	ErrBusy = errors.New("ring: end held by another process")
	// ErrCorrupt: the shared region holds a record or slot that cannot be valid.
	ErrCorrupt = errors.New("ring: corrupt ring")
	// ErrInvalid: a bad capacity or slot size (zero, not a power of two, beyond the limit), or
	// a negative buffer (Writer.SetBuffer).
	ErrInvalid = errors.New("ring: invalid argument")
	// ErrTooMany: a pipe or queue already records as many attached processes as its layout
	// holds (PipeMembers, QueueMembers); the attach that would be one more fails with it.
	ErrTooMany = errors.New("ring: too many processes attached")
	// ErrNotReserved: Commit or Release with nothing reserved or taken.
	ErrNotReserved = errors.New("ring: nothing reserved")
)
