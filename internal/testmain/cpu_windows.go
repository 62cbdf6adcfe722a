package testmain

import (
	"time"

	"golang.org/x/sys/windows"
)

// cpuTime is the CPU this process has used, user and kernel.
func cpuTime() time.Duration {
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user); err != nil {
		return 0
	}
	// Filetimes count 100 ns ticks.
	ticks := func(f windows.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100
}

// cpuResolution is the CPU clock's step: GetProcessTimes advances by the scheduler's tick
// (15.6 ms on Windows; wine reads /proc, 10 ms), so a reading of 30 ms may be 20 of real use.
const cpuResolution = 16 * time.Millisecond
