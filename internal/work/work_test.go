package work

import "testing"

func TestCountPrimes(t *testing.T) {
	for _, c := range []struct{ lo, hi, want int64 }{{0, 10, 4}, {10, 20, 4}, {0, 3_000_000, 216816}, {5, 5, 0}} {
		if got := CountPrimes(c.lo, c.hi); got != c.want {
			t.Errorf("CountPrimes(%d, %d) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
}
