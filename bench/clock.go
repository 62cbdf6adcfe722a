package bench

import "time"

// since is the time elapsed from a tick() reading: the stopwatch of every sample that times
// one round trip or one start. It is Go's monotonic clock, except on Windows, where that moves
// in steps of up to a millisecond (the interrupt time), and QueryPerformanceCounter is used.
func since(t int64) time.Duration { return time.Duration(tick() - t) }
