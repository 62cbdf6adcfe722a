//go:build windows

package bench

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	kernel32                      = windows.NewLazySystemDLL("kernel32.dll")
	procQueryPerformanceCounter   = kernel32.NewProc("QueryPerformanceCounter")
	procQueryPerformanceFrequency = kernel32.NewProc("QueryPerformanceFrequency")
	qpcHz                         = func() int64 {
		var f int64
		_, _, _ = procQueryPerformanceFrequency.Call(uintptr(unsafe.Pointer(&f)))
		return max(f, 1)
	}()
)

// tick reads the stopwatch, in nanoseconds: QueryPerformanceCounter, converted without
// overflow (whole seconds, then the rest).
func tick() int64 {
	var c int64
	_, _, _ = procQueryPerformanceCounter.Call(uintptr(unsafe.Pointer(&c)))
	return c/qpcHz*1e9 + c%qpcHz*1e9/qpcHz
}
