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
