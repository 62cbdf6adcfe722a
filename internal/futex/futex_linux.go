//go:build linux

package futex

import (
	"math"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	futexWaitBitset = 9 // FUTEX_WAIT_BITSET: the timeout is absolute, CLOCK_MONOTONIC
	futexWake       = 1 // FUTEX_WAKE
	bitsetMatchAny  = 0xffffffff
)

// timespec turns deadline into the absolute CLOCK_MONOTONIC time both calls take (nil: none),
// or ErrTimeout once it has passed.
func timespec(deadline time.Time) (*unix.Timespec, error) {
	if deadline.IsZero() {
		return nil, nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return nil, ErrTimeout
	}
	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
		return nil, err
	}
	abs := unix.NsecToTimespec(now.Nano() + int64(d))
	return &abs, nil
}

func wait(addr *uint32, val uint32, deadline time.Time) error {
	ts, err := timespec(deadline)
	if err != nil {
		return err
	}
	// Sound: addr points into a shared mapping the caller keeps alive; the kernel reads the
	// word atomically and compares it with val before sleeping, so no wake-up is lost between
	// the caller's check and the sleep.
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitBitset,
		uintptr(val), uintptr(unsafe.Pointer(ts)), 0, bitsetMatchAny)
	switch errno {
	case 0, unix.EAGAIN, unix.EINTR: // woken, value already changed, or a signal
		return nil
	case unix.ETIMEDOUT:
		return ErrTimeout
	default:
		return errno
	}
}

func wake(addr *uint32, n int) int {
	if n < 0 || n > math.MaxInt32 {
		n = math.MaxInt32
	}
	r, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWake,
		uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(r)
}

// waitv is the kernel's struct futex_waitv.
type waitv struct {
	val   uint64
	uaddr uint64
	flags uint32
	_     uint32
}

const futex2SizeU32 = 0x02 // FUTEX2_SIZE_U32, and not FUTEX2_PRIVATE: processes meet

// noWaitv is set once futex_waitv turned out to be missing (before Linux 5.16) or filtered.
var noWaitv atomic.Bool

func waitAny(words []*uint32, vals []uint32, deadline time.Time) error {
	if noWaitv.Load() {
		return pollAny(words, vals, deadline)
	}
	ts, err := timespec(deadline)
	if err != nil {
		return err
	}
	ws := make([]waitv, len(words))
	for i, w := range words {
		ws[i] = waitv{val: uint64(vals[i]), uaddr: uint64(uintptr(unsafe.Pointer(w))), flags: futex2SizeU32}
	}
	// Sound: the words are in mappings (or Go objects) the caller keeps alive until WaitAny
	// returns; as with FUTEX_WAIT, the kernel compares every word with its value before
	// sleeping, so no wake-up is lost between the caller's check and the sleep.
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX_WAITV, uintptr(unsafe.Pointer(&ws[0])), uintptr(len(ws)), 0,
		uintptr(unsafe.Pointer(ts)), unix.CLOCK_MONOTONIC, 0)
	runtime.KeepAlive(words)
	switch errno {
	case 0, unix.EAGAIN, unix.EINTR:
		return nil
	case unix.ETIMEDOUT:
		return ErrTimeout
	case unix.ENOSYS, unix.EPERM:
		noWaitv.Store(true)
		return pollAny(words, vals, deadline)
	default:
		return errno
	}
}
