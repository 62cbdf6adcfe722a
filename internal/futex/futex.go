// Package futex is the one blocking primitive under shmkit's locks, semaphores and rings: sleep
// while a 32-bit word in shared memory holds a value, and wake sleepers on that word, across
// processes.
//
// On Linux it is the futex system call without FUTEX_PRIVATE_FLAG (so the kernel keys waiters
// by the physical page, and processes mapping the same segment meet), FUTEX_WAIT_BITSET with an
// absolute CLOCK_MONOTONIC deadline, and FUTEX_WAKE; WaitAny, a sleep on several words at once,
// is futex_waitv (Linux 5.16).
//
// On Windows, whose WaitOnAddress wakes only threads of one process, a word's sleepers park on
// a named semaphore keyed by the segment the word is in and its offset there (package shm tells
// which: SetLocator), with a shared table of sleeper counts so that Wake makes no system call
// when nobody sleeps; WaitAny is one WaitForMultipleObjects on up to 64 words. See
// futex_windows.go for why no wake-up is lost. Elsewhere (macOS: os_sync_wait_on_address needs
// libSystem calls a cgo-free module cannot make) it falls back to polling the word every
// millisecond at most, and Wake is a no-op: correct, slower to react.
package futex

import (
	"errors"
	"sync/atomic"
	"time"
)

// ErrTimeout is returned by Wait when its deadline passes.
var ErrTimeout = errors.New("futex: deadline passed")

// Wait sleeps while *addr == val, until Wake, the deadline (the zero Time means none), or a
// spurious wake-up (a signal, or a value that changed and changed back). It returns ErrTimeout
// once the deadline has passed and nil otherwise: the caller re-checks its condition either way.
// addr must be 4-byte aligned and stay mapped while Wait runs.
func Wait(addr *uint32, val uint32, deadline time.Time) error {
	return wait(addr, val, deadline)
}

// Wake wakes up to n sleepers on addr (n < 0: all) and returns how many it woke (0 where the
// platform cannot tell).
func Wake(addr *uint32, n int) int {
	return wake(addr, n)
}

// MaxWaitAny is the most words WaitAny sleeps on in one call (the kernel's limit).
const MaxWaitAny = 128

// WaitAny sleeps while *words[i] == vals[i] for every i, until one of the words is woken, the
// deadline passes (the zero Time means none), or a spurious wake-up; like Wait, it returns
// ErrTimeout once the deadline has passed and nil otherwise, and the caller re-checks. At most
// MaxWaitAny words; each must be 4-byte aligned and stay mapped while WaitAny runs.
//
// On Linux it is one futex_waitv system call (Linux 5.16 and later), on Windows one
// WaitForMultipleObjects (64 words at most); past that, where futex_waitv is missing or
// filtered, and on other systems, it polls the words every millisecond at most.
func WaitAny(words []*uint32, vals []uint32, deadline time.Time) error {
	if len(words) != len(vals) || len(words) == 0 || len(words) > MaxWaitAny {
		return errors.New("futex: WaitAny needs 1 to 128 words and a value for each")
	}
	return waitAny(words, vals, deadline)
}

// pollAny is WaitAny by polling: it returns as soon as a word differs from its value, or
// after one sleep of at most a millisecond.
func pollAny(words []*uint32, vals []uint32, deadline time.Time) error {
	for i, w := range words {
		if atomic.LoadUint32(w) != vals[i] {
			return nil
		}
	}
	pause := time.Millisecond
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return ErrTimeout
		}
		pause = min(pause, d)
	}
	time.Sleep(pause)
	return nil
}
