//go:build !linux

package futex

func noWaitvUsed() bool { return true }
