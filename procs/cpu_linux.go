//go:build linux

package procs

import (
	"bufio"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func affinityCount() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return 0
	}
	return set.Count()
}

// quotaCPUs reads the CPU quota of this process's cgroup and its ancestors, in CPUs rounded
// up: cgroup v2's cpu.max, or v1's cpu.cfs_quota_us over cpu.cfs_period_us. 0 means no quota.
func quotaCPUs() int {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	defer f.Close()
	best := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1)
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var q int
		switch {
		case parts[0] == "0" && parts[1] == "":
			q = walkQuota("/sys/fs/cgroup", parts[2], readV2)
		case hasController(parts[1], "cpu"):
			for _, mnt := range []string{"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"} {
				if q = walkQuota(mnt, parts[2], readV1); q > 0 {
					break
				}
			}
		}
		if q > 0 && (best == 0 || q < best) {
			best = q
		}
	}
	return best
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// walkQuota applies read to the cgroup directory and each ancestor, keeping the tightest quota.
func walkQuota(root, cg string, read func(dir string) int) int {
	best := 0
	for p := path.Clean("/" + cg); ; p = path.Dir(p) {
		if q := read(root + p); q > 0 && (best == 0 || q < best) {
			best = q
		}
		if p == "/" {
			return best
		}
	}
}

func readV2(dir string) int {
	b, err := os.ReadFile(dir + "/cpu.max")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] == "max" {
		return 0
	}
	return ceilDiv(f[0], f[1])
}

func readV1(dir string) int {
	q, err1 := os.ReadFile(dir + "/cpu.cfs_quota_us")
	p, err2 := os.ReadFile(dir + "/cpu.cfs_period_us")
	if err1 != nil || err2 != nil {
		return 0
	}
	return ceilDiv(strings.TrimSpace(string(q)), strings.TrimSpace(string(p)))
}

func ceilDiv(quota, period string) int {
	q, err1 := strconv.ParseInt(quota, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0
	}
	return int((q + p - 1) / p)
}
