//go:build linux

package futex

import (
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	futexWaitBitset = 9 // FUTEX_WAIT_BITSET: the timeout is absolute, CLOCK_MONOTONIC
	futexWake       = 1 // FUTEX_WAKE
	bitsetMatchAny  = 0xffffffff
)

func wait(addr *uint32, val uint32, deadline time.Time) error {
	var ts *unix.Timespec
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return ErrTimeout
		}
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
			return err
		}
		abs := unix.NsecToTimespec(now.Nano() + int64(d))
		ts = &abs
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
