//go:build linux

package procs

import (
	"os"
	"os/exec"
	"syscall"
)

func selfExe() string { return "/proc/self/exe" }

// configure makes a daemon child receive SIGKILL when its parent dies. The signal is tied to
// the forking thread, which monitor keeps locked until the child exits; Go's fork code also
// checks that the parent did not die before the setting took effect.
func configure(cmd *exec.Cmd, daemon bool) {
	if daemon {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
}

// watchParent checks, in the child, that the parent that started it is still its parent; the
// kernel's parent-death signal covers the rest of the child's life.
func watchParent(token string) bool {
	pid, _ := parseToken(token)
	return os.Getppid() == pid
}
