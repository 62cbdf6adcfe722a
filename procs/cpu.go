package procs

import "runtime"

// CPUCount returns how many CPUs this process may use: the CPUs in its affinity mask, further
// limited by a cgroup CPU quota (a container's --cpus) where the system has one, and at least 1.
// This is the right number of Pool workers for CPU-bound work; Python's cpu_count, which counts
// every CPU in the machine, overcommits in containers.
func CPUCount() int {
	n := runtime.NumCPU() // the affinity mask at startup
	if a := affinityCount(); a > 0 {
		n = a
	}
	if q := quotaCPUs(); q > 0 && q < n {
		n = q
	}
	return max(n, 1)
}
