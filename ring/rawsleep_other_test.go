//go:build !windows

package ring_test

import "testing"

// rawSleepName names the bare sleeping round trip a sleeping pipe stands beside.
const rawSleepName = "raw-futex"

// rawSleep is the bare sleeping round trip: two shared words, a futex wake and wait on every
// hand-off.
func rawSleep(b *testing.B, rounds int) (round, done func()) {
	return rawPingPong(b, false, false, rounds)
}
