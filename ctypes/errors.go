package ctypes

import (
	"errors"
	"fmt"

	"github.com/shmkit/shmkit/shm"
)

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrInvalid: a type that cannot live in shared memory (with pointers, of no fixed size, or
	// int, uint and uintptr, whose size depends on the architecture), a bad length, or an atomic
	// operation on a type that has none. The message names the offending field.
	ErrInvalid = errors.New("ctypes: invalid argument")
	// ErrType: the segment holds another element type or length than the one asked for; the
	// message names both.
	ErrType = errors.New("ctypes: element type mismatch")
	// ErrFull: the Map's stripe for the key has no free slot.
	ErrFull = errors.New("ctypes: map full")
	// ErrTooLarge: a Map key or value beyond the sizes the Map was made with (or an empty key).
	ErrTooLarge = errors.New("ctypes: map key or value too large")
	// ErrCorrupt: the segment's array header cannot be valid.
	ErrCorrupt = errors.New("ctypes: corrupt array segment")
	// ErrClosed: use after Close. It is shm.ErrClosed (fs.ErrClosed).
	ErrClosed = shm.ErrClosed
)

func errorf(sentinel error, format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, a...)...)
}
