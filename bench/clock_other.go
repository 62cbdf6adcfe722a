//go:build !windows

package bench

import "time"

var epoch = time.Now()

// tick reads the stopwatch, in nanoseconds.
func tick() int64 { return int64(time.Since(epoch)) }
