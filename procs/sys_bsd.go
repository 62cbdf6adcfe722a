//go:build unix && !linux

package procs

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

func selfExe() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

// configure: these systems have no parent-death signal; entry children watch their lifeline.
func configure(*exec.Cmd, bool) {}

// watchLifeline: a goroutine reads the lifeline until the parent's end closes.
func watchLifeline(f *os.File) { watchInBackground(f) }

// msgNoSignal: Go ignores SIGPIPE on descriptors other than 1 and 2; the send returns EPIPE.
const msgNoSignal = 0

// msgCmsgCloexec: not here; received descriptors are inherited only by an exec this child
// makes, and a spare's child execs nothing before its entry attaches them.
const msgCmsgCloexec = 0

// socketpair makes the pair close-on-exec under the fork lock (no SOCK_CLOEXEC here).
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}
