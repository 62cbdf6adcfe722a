//go:build !linux && !windows

package futex

import "runtime"

// Yield gives the processor to another goroutine (other processes are not asked here).
func Yield() { runtime.Gosched() }
