//go:build linux

package shm

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Segment pages are reserved at create (fallocate) and charged to the creator's memory cgroup.
// tmpfs has a size limit that statfs shows, but a memfd has none, and a tmpfs may be larger
// than the memory that backs it: a request beyond what memory can hold gets the process, or
// an unrelated one, killed by the OOM killer instead of an error. memoryHeadroom says how
// much can be taken, so Create and Anonymous fail with ErrNoSpace first.

// noLimit is above any real limit: cgroups write "max", or a huge page-rounded number.
const noLimit = 1 << 62

// memoryHeadroom returns how many bytes a new segment may take, and which limit sets it: the
// tightest of every memory cgroup this process is in (v1 or v2, and their ancestors, as limit
// minus usage) and of the machine (MemAvailable plus SwapFree: shared memory can be swapped).
// ok is false when nothing could be read.
// headroomFor is memoryHeadroom, read again only when need is more than an eighth of what the
// last reading (under a second old) found free: the reading costs a quarter of a millisecond
// (/proc and cgroup files), more than creating a small segment, and a request that small
// cannot be what exhausts the memory the last reading saw.
func headroomFor(need int64) (free int64, where string, ok bool) {
	headroomMu.Lock()
	defer headroomMu.Unlock()
	if h := lastHeadroom; h.ok && time.Since(h.at) < time.Second && need <= h.free/8 {
		return h.free, h.where, true
	}
	free, where, ok = memoryHeadroom()
	lastHeadroom = headroomReading{free: free, where: where, ok: ok, at: time.Now()}
	return free, where, ok
}

type headroomReading struct {
	free  int64
	where string
	ok    bool
	at    time.Time
}

var (
	headroomMu   sync.Mutex
	lastHeadroom headroomReading
)

func memoryHeadroom() (free int64, where string, ok bool) {
	free = noLimit
	if avail, okm := meminfo(); okm {
		free, where, ok = avail, "the machine (MemAvailable+SwapFree)", true
	}
	for _, c := range cgroupLimits() {
		if c.limit >= noLimit {
			continue
		}
		if f := max(c.limit-c.usage, 0); f < free {
			free, where, ok = f, fmt.Sprintf("memory cgroup %s (limit %s, in use %s)", c.path, human(c.limit), human(c.usage)), true
		}
	}
	return free, where, ok
}

func meminfo() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var avail, swap int64
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "MemAvailable":
			avail, found = n*1024, true
		case "SwapFree":
			swap = n * 1024
		}
	}
	return avail + swap, found
}

type cgroupLimit struct {
	path         string
	limit, usage int64
}

// cgroupLimits reads the memory limits of this process's cgroup and of its ancestors, from
// the cgroup v2 hierarchy ("0::/path") and the v1 memory controller ("N:memory:/path").
func cgroupLimits() []cgroupLimit {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	mounts := cgroupMounts()
	var out []cgroupLimit
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var m cgroupMount
		var limitFile, usageFile string
		switch {
		case parts[0] == "0" && parts[1] == "":
			m, limitFile, usageFile = mounts["cgroup2"], "memory.max", "memory.current"
		case hasController(parts[1], "memory"):
			m, limitFile, usageFile = mounts["memory"], "memory.limit_in_bytes", "memory.usage_in_bytes"
		default:
			continue
		}
		if m.point == "" {
			continue
		}
		rel, ok := strings.CutPrefix(parts[2], m.root)
		if !ok {
			continue // the cgroup is outside what this mount shows
		}
		for dir := m.point + "/" + strings.Trim(rel, "/"); strings.HasPrefix(dir, m.point); {
			limit, err1 := readLimit(dir + "/" + limitFile)
			usage, err2 := readLimit(dir + "/" + usageFile)
			if err1 == nil && err2 == nil {
				out = append(out, cgroupLimit{dir, limit, usage})
			}
			if dir == m.point {
				break
			}
			dir = dir[:strings.LastIndex(dir, "/")]
		}
	}
	return out
}

type cgroupMount struct{ point, root string }

// cgroupMounts finds, in /proc/self/mountinfo, the cgroup2 mount and the v1 memory
// controller's, with the hierarchy path each one shows at its mount point.
func cgroupMounts() map[string]cgroupMount {
	out := map[string]cgroupMount{}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory"
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			continue
		}
		m := cgroupMount{point: fields[4], root: strings.TrimSuffix(fields[3], "/")}
		switch {
		case tail[0] == "cgroup2":
			out["cgroup2"] = m
		case tail[0] == "cgroup" && hasController(tail[2], "memory"):
			out["memory"] = m
		}
	}
	return out
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

func readLimit(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return noLimit, nil
	}
	return strconv.ParseInt(s, 10, 64)
}
