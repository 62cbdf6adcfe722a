//go:build linux

package procs

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

func selfExe() string { return "/proc/self/exe" }

// configure gives the child SIGKILL when its parent dies (pdeath). The signal is tied to the
// forking thread, which monitor keeps locked until the child exits; Go's fork code also
// checks that the parent did not die before the setting took effect.
func configure(cmd *exec.Cmd, pdeath bool) {
	if pdeath {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
}

// watchLifeline asks the kernel to SIGKILL this process the moment the parent's end of the
// pipe closes: with O_ASYNC the pipe signals its owner when its last writer goes, and F_SETSIG
// makes that signal SIGKILL. No thread waits, and death is as prompt as the parent-death
// signal, but tied to the parent process rather than to one of its threads. If the parent
// died before this was armed, the read below finds end-of-file and the child dies now.
func watchLifeline(f *os.File) {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETOWN, os.Getpid())
	}
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETSIG, int(unix.SIGKILL))
	}
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_ASYNC|unix.O_NONBLOCK)
	}
	if err != nil {
		watchInBackground(f)
		return
	}
	lifeline = f
	var b [1]byte
	if n, err := unix.Read(fd, b[:]); n == 0 && err == nil {
		dieWithParent()
	}
}
