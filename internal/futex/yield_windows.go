//go:build windows

package futex

import "golang.org/x/sys/windows"

var procSwitchToThread = windows.NewLazySystemDLL("kernel32.dll").NewProc("SwitchToThread")

// Yield gives the calling thread's processor to another thread ready to run on it, of this
// process or another (SwitchToThread), and returns when it runs again; at once if none is.
func Yield() { _, _, _ = procSwitchToThread.Call() }
