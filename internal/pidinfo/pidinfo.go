package pidinfo

import (
	"errors"
	"os"
	"sync"
)

// ErrNotSupported is returned where the operating system gives no way to read a start time.
var ErrNotSupported = errors.New("pidinfo: not supported on this platform")

// Alive reports whether process pid is running and, when start is not 0, started at start (as
// StartTime reports it). Zombies count as dead.
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, running, err := stat(pid)
	if err != nil {
		return errors.Is(err, ErrNotSupported) // cannot tell: assume alive rather than steal
	}
	return running && (start == 0 || st == start)
}

// StartTime returns an opaque number that identifies when pid started: clock ticks since boot
// on Linux, microseconds since the epoch on macOS, 100 ns units since 1601 on Windows.
func StartTime(pid int) (uint64, error) {
	st, _, err := stat(pid)
	return st, err
}

// Self returns this process's pid and start time, read once.
var Self = sync.OnceValues(func() (int, uint64) {
	pid := os.Getpid()
	start, _ := StartTime(pid)
	return pid, start
})

// An ID names a process in one 32-bit word of shared memory: its pid in the low 22 bits (Linux
// pids stay below 2^22) and an 8-bit hash of its start time above, so a pid reused by a newer
// process is told apart 255 times in 256. Bits 30 and 31 are always zero; callers may use them.
// 0 names no process.
type ID uint32

const pidBits = 22

// MakeID returns the ID of the process that has pid and started at start.
func MakeID(pid int, start uint64) ID {
	h := uint32((start * 0x9E3779B97F4A7C15) >> 56) // 8 bits of the start time, mixed
	return ID(uint32(pid)&(1<<pidBits-1) | h<<pidBits)
}

// SelfID returns this process's ID, computed once.
var SelfID = sync.OnceValue(func() ID {
	pid, start := Self()
	return MakeID(pid, start)
})

// PID returns the pid part of id.
func (id ID) PID() int { return int(id & (1<<pidBits - 1)) }

// Alive reports whether the process id names still runs. Where the system gives no start
// time it trusts the pid alone, so it never declares a live process dead.
func (id ID) Alive() bool {
	pid := id.PID()
	start, err := StartTime(pid)
	switch {
	case errors.Is(err, ErrNotSupported):
		return true
	case err != nil:
		return false // no such process
	}
	return Alive(pid, start) && MakeID(pid, start) == id
}
