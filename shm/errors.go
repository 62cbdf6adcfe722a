package shm

import (
	"errors"
	"fmt"
	"io/fs"
)

// Errors returned by this package. Test for them with errors.Is: the errors actually returned
// wrap these with the segment name and, for mismatches, both the expected and the found value.
var (
	// ErrInvalidName: the name breaks the rule: [A-Za-z0-9._-]{1,30}, not starting with '.' or
	// '-'.
	ErrInvalidName = errors.New("shm: invalid segment name")
	// ErrInvalidSize: a size of zero, a negative size, or one beyond MaxSize.
	ErrInvalidSize = errors.New("shm: invalid segment size")
	// ErrInvalidKind: a Kind longer than 32 bytes or with bytes outside printable ASCII.
	ErrInvalidKind = errors.New("shm: invalid segment kind")
	// ErrNoSpace: the shared-memory filesystem cannot hold the segment. The message says how much
	// is free and how to raise the limit.
	ErrNoSpace = errors.New("shm: not enough shared memory")
	// ErrExist: Create of a name that already exists. It is fs.ErrExist.
	ErrExist = fs.ErrExist
	// ErrNotExist: Open or Remove of a name that does not exist. It is fs.ErrNotExist.
	ErrNotExist = fs.ErrNotExist
	// ErrClosed: use of a Segment after Close. It is fs.ErrClosed.
	ErrClosed = fs.ErrClosed
	// ErrNotSupported: the operation has no implementation on this operating system.
	ErrNotSupported = errors.New("shm: not supported on this platform")

	// ErrBadMagic: the file is not a shmkit segment: it does not start with a shmkit header
	// (open it with Raw instead) and, for Remove, carries no Raw mark either, or it is not a
	// regular file at all.
	ErrBadMagic = errors.New("shm: not a shmkit segment")
	// ErrVersion: the header was written by an incompatible layout version.
	ErrVersion = errors.New("shm: unsupported header version")
	// ErrCorrupt: the header's checksum or fixed fields do not hold.
	ErrCorrupt = errors.New("shm: corrupt header")
	// ErrTruncated: the file is shorter than its header says.
	ErrTruncated = errors.New("shm: segment truncated")
	// ErrSize: the file is longer than its header says, or a size expectation failed.
	ErrSize = errors.New("shm: segment size mismatch")
	// ErrKind: the segment holds another kind of object than the caller expects.
	ErrKind = errors.New("shm: segment kind mismatch")
	// ErrFingerprint: the segment's layout fingerprint differs from the caller's.
	ErrFingerprint = errors.New("shm: layout fingerprint mismatch")
	// ErrNotReady: the creator did not finish initialising the segment in time, or died first.
	ErrNotReady = errors.New("shm: segment not ready")
	// ErrUnknownType: a Handle names a type that no package registered with Register.
	ErrUnknownType = errors.New("shm: unknown shareable type")
)

// human writes n bytes for a person: 1.5 GiB, 64.0 MiB.
func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
