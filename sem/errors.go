package sem

import (
	"errors"

	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/shm"
)

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrOwnerDead: the Mutex's owner died holding it. The caller now holds the lock; it must
	// repair the data the lock protects and call Consistent before Unlock, or the Mutex becomes
	// not recoverable. Returned once, to the locker that took the lock over.
	ErrOwnerDead = errors.New("sem: previous owner died holding the lock")
	// ErrNotRecoverable: a Mutex whose dead owner's successor unlocked it without calling
	// Consistent. It can never be locked again.
	ErrNotRecoverable = errors.New("sem: lock not recoverable")
	// ErrNotOwner: Unlock or Consistent by a process (or RMutex owner token) that does not hold
	// the lock.
	ErrNotOwner = errors.New("sem: not the lock's owner")
	// ErrOverRelease: a BoundedSemaphore released beyond its initial value. The count is
	// unchanged.
	ErrOverRelease = errors.New("sem: semaphore released too many times")
	// ErrBrokenBarrier: the Barrier was aborted, reset, or broken by a party that timed out,
	// was cancelled, or died.
	ErrBrokenBarrier = errors.New("sem: broken barrier")
	// ErrTooMany: a Barrier already tracks BarrierMembers processes; the one that would be one
	// more fails to attach (or to wait) with it.
	ErrTooMany = errors.New("sem: too many processes attached")
	// ErrMisaligned: an object placed at an offset that is not a multiple of 8.
	ErrMisaligned = object.ErrMisaligned
	// ErrOutOfRange: an object placed where it does not fit in the buffer.
	ErrOutOfRange = object.ErrOutOfRange
	// ErrInvalid: a bad count or party number (negative, zero parties, beyond the limit).
	ErrInvalid = errors.New("sem: invalid argument")
	// ErrClosed: use of a Shared… object after its Close. It is shm.ErrClosed (fs.ErrClosed).
	ErrClosed = shm.ErrClosed
)
