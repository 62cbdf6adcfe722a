//go:build !linux && !windows

package futex

import "time"

// wait polls: it sleeps up to 1 ms and returns, and the caller re-reads the word. It returns
// after at most one sleep, so a caller's own checks (a dead lock owner, a context) keep running.
func wait(addr *uint32, val uint32, deadline time.Time) error {
	return pollAny([]*uint32{addr}, []uint32{val}, deadline)
}

func wake(*uint32, int) int { return 0 }

func waitAny(words []*uint32, vals []uint32, deadline time.Time) error {
	return pollAny(words, vals, deadline)
}
