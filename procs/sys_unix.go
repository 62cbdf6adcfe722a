//go:build unix

package procs

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/shmkit/shmkit/shm"
	"golang.org/x/sys/unix"
)

// passFiles appends files to cmd.ExtraFiles and returns the fd each gets in the child:
// ExtraFiles[i] becomes fd 3+i.
func passFiles(cmd *exec.Cmd, files []*os.File) []int {
	fds := make([]int, len(files))
	for i := range files {
		fds[i] = 3 + len(cmd.ExtraFiles) + i
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, files...)
	return fds
}

// dupForChild duplicates fd (close-on-exec in this process; exec.Cmd clears the flag in the
// child), so the launch can hand it over and close it without touching the original. The
// duplicate shares the open file description, and so the segment's liveness lock.
func dupForChild(fd uintptr) (*os.File, error) {
	n, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("procs: dup fd %d: %w", fd, err)
	}
	return os.NewFile(uintptr(n), "shm-segment"), nil
}

// inherit adopts an fd the parent passed, closing it on any further exec. The parent's pipes
// are non-blocking (Go's poller); made blocking here, os.NewFile does not start a poller in the
// child, which saves the child about 40 µs of start-up.
func inherit(fd int, name string) *os.File {
	unix.CloseOnExec(fd)
	_ = unix.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), name)
}

// readPending returns what the pipe r holds now, without waiting for more: a process that
// inherited the write end from the child could otherwise keep the read open forever.
func readPending(r *os.File) []byte {
	rc, err := r.SyscallConn()
	if err != nil {
		return nil
	}
	var out []byte
	buf := make([]byte, 4096)
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Read(int(fd), buf)
			if n <= 0 || err != nil {
				return true // EOF, or EAGAIN: nothing more is there
			}
			out = append(out, buf[:n]...)
		}
	})
	return out
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

func kill(p *os.Process) error { return p.Kill() }

// tieToParent: on Linux configure's parent-death signal ties a daemon Command to this process;
// elsewhere on Unix nothing can (see Daemon).
func tieToParent(*os.Process) error { return nil }

// dieWithParent ends a daemon child whose parent is gone, as the parent-death signal would.
func dieWithParent() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	os.Exit(137)
}

// exitCode returns the exit status, or minus the signal number for a signalled child.
func exitCode(ps *os.ProcessState) (int, bool) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal()), true
	}
	return ps.ExitCode(), false
}

// fileID is the device and inode of the file behind seg.
func fileID(seg *shm.Segment) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(seg.Fd()), &st); err != nil {
		return 0, 0, fmt.Errorf("procs: fstat: %w", err)
	}
	return uint64(st.Dev), uint64(st.Ino), nil
}

// parentStart is not needed here (see parentAlive), and not read: it would cost every start.
func parentStart(int) uint64 { return 0 }

// parentAlive: a Unix process whose parent exits is re-parented, so its parent pid changes.
func parentAlive(p *ParentProcess) bool { return os.Getppid() == p.pid }
