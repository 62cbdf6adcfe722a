// Package work holds the CPU-bound workloads that the Pool's go test benchmarks and shmkit
// bench both time, so the two measure the same code.
package work

// CountPrimes counts the primes in [lo, hi) by trial division: CPU-bound, no memory traffic.
func CountPrimes(lo, hi int64) int64 {
	var n int64
	for x := max(lo, 2); x < hi; x++ {
		prime := true
		for d := int64(2); d*d <= x; d++ {
			if x%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			n++
		}
	}
	return n
}
