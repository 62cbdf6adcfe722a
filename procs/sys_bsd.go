//go:build unix && !linux

package procs

import (
	"os"
	"os/exec"
	"time"
)

func selfExe() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

// configure: these systems have no parent-death signal; watchParent polls instead.
func configure(*exec.Cmd, bool) {}

// watchParent exits the child within 100 ms of its parent's death, since the kernel will not signal it.
func watchParent(token string) bool {
	pid, _ := parseToken(token)
	if os.Getppid() != pid {
		return false
	}
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			if os.Getppid() != pid {
				os.Exit(1)
			}
		}
	}()
	return true
}
