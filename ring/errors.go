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
	// ErrPeerGone: every process on the other side died: a blocked call returns this instead of
	// waiting for ever.
	ErrPeerGone = errors.New("ring: peer process gone")
	// ErrBusy: the pipe's writer (or reader) end is held by another live process.
	ErrBusy = errors.New("ring: end held by another process")
	// ErrCorrupt: the shared region holds a record or slot that cannot be valid.
	ErrCorrupt = errors.New("ring: corrupt ring")
	// ErrInvalid: a bad capacity or slot size (zero, not a power of two, beyond the limit).
	ErrInvalid = errors.New("ring: invalid argument")
	// ErrNotReserved: Commit or Release with nothing reserved or taken.
	ErrNotReserved = errors.New("ring: nothing reserved")
)
