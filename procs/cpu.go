package procs

import (
	"runtime"
	"sync"
	"time"
)

// CPUCount returns how many CPUs this process may use: the CPUs in its affinity mask, further
// limited by a cgroup CPU quota (a container's --cpus) where the system has one, and at least 1.
// This is the right number of Pool workers for CPU-bound work; Python's cpu_count, which counts
// every CPU in the machine, overcommits in containers.
//
// The count is read afresh at most once a second: the quota takes a dozen file reads, and
// NewPool asks for it before it starts a worker.
func CPUCount() int {
	cpuCount.Lock()
	defer cpuCount.Unlock()
	if now := time.Now(); cpuCount.n == 0 || now.Sub(cpuCount.at) >= time.Second {
		cpuCount.n, cpuCount.at = readCPUCount(), now
	}
	return cpuCount.n
}

var cpuCount struct {
	sync.Mutex
	n  int
	at time.Time
}

func readCPUCount() int {
	n := runtime.NumCPU() // the affinity mask at startup
	if a := affinityCount(); a > 0 {
		n = a
	}
	if q := quotaCPUs(); q > 0 && q < n {
		n = q
	}
	return max(n, 1)
}
