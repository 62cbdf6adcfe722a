//go:build !windows

package testmain

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// shmDir is where Linux keeps named segments (elsewhere it does not exist, and no segment is
// seen left).
const shmDir = "/dev/shm"

// track removes whatever file is at name in shmDir when t ends. Not shm.Remove: some tests
// put foreign files (plain files, FIFOs, symlinks) under the name, which Remove rightly
// refuses.
func track(t testing.TB, name string) {
	t.Cleanup(func() { _ = os.Remove(shmDir + "/" + name) })
}

// segments lists the named segments of this run still in shmDir.
func segments() []string {
	entries, _ := os.ReadDir(shmDir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), Prefix()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// childPids lists processes whose parent is this one, zombies included.
func childPids() []int {
	me := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:])) // f[1] is the ppid
			if len(f) > 1 && f[1] == strconv.Itoa(me) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// Kill ends the process pid at once with SIGKILL: how a test kills a worker mid-task.
func Kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer p.Release()
	return p.Kill()
}
