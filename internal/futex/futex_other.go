//go:build !linux

package futex

import (
	"sync/atomic"
	"time"
)

// wait polls: it sleeps up to 1 ms and returns, and the caller re-reads the word. It returns
// after at most one sleep, so a caller's own checks (a dead lock owner, a context) keep running.
func wait(addr *uint32, val uint32, deadline time.Time) error {
	if atomic.LoadUint32(addr) != val {
		return nil
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

func wake(*uint32, int) int { return 0 }

func waitAny(words []*uint32, vals []uint32, deadline time.Time) error {
	return pollAny(words, vals, deadline)
}
