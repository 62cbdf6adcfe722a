//go:build linux

package procs

import (
	"fmt"
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

// peerFDs: a process can open another's descriptor through /proc (same user).
const peerFDs = true

// openPeerFD opens the file behind descriptor fd of process pid.
func openPeerFD(pid, fd int) (uintptr, error) {
	f, err := unix.Open(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("procs: open descriptor %d of pid %d: %w", fd, pid, err)
	}
	return uintptr(f), nil
}

// msgNoSignal: a send to a spare that died returns EPIPE instead of raising SIGPIPE.
const msgNoSignal = unix.MSG_NOSIGNAL

// msgCmsgCloexec: descriptors received in a hand-off are close-on-exec from the start.
const msgCmsgCloexec = unix.MSG_CMSG_CLOEXEC

func socketpair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
