//go:build !windows

package shm

// parkForget: the kernel keys sleepers by memory here (a futex), and there is nothing to close.
func parkForget(uint64) {}
