//go:build windows

package procs

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// On Windows files pass to the child as inherited handles, which keep their values. A daemon
// entry child watches its lifeline pipe; a daemon Command is not tied to its parent (no job
// object is set up yet).

func selfExe() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

func configure(cmd *exec.Cmd, _ bool) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
}

func passFiles(cmd *exec.Cmd, files []*os.File) []int {
	configure(cmd, false)
	fds := make([]int, len(files))
	for i, f := range files {
		h := syscall.Handle(f.Fd())
		_ = windows.SetHandleInformation(windows.Handle(h), windows.HANDLE_FLAG_INHERIT, windows.HANDLE_FLAG_INHERIT)
		cmd.SysProcAttr.AdditionalInheritedHandles = append(cmd.SysProcAttr.AdditionalInheritedHandles, h)
		fds[i] = int(h)
	}
	return fds
}

func dupForChild(fd uintptr) (*os.File, error) {
	cur := windows.CurrentProcess()
	var h windows.Handle
	if err := windows.DuplicateHandle(cur, windows.Handle(fd), cur, &h, 0, true, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return nil, fmt.Errorf("procs: duplicate handle: %w", err)
	}
	return os.NewFile(uintptr(h), "shm-segment"), nil
}

func inherit(fd int, name string) *os.File {
	_ = windows.SetHandleInformation(windows.Handle(fd), windows.HANDLE_FLAG_INHERIT, 0)
	return os.NewFile(uintptr(fd), name)
}

// Windows has no signals. Terminate and Kill end the child with TerminateProcess and an exit
// code of their own, which ExitCode reports as Unix's -15 and -9, so a child ended by either
// reads the same on every platform (Python's multiprocessing likewise ends a child with exit
// code 0x10000 and reports it as -SIGTERM). A child that exits with one of these codes by
// itself reads the same: they are far from any code a program picks.
const (
	exitTerminated = 0x10000 | 15
	exitKilled     = 0x10000 | 9
)

func terminate(p *os.Process) error { return endWith(p, exitTerminated) }

func kill(p *os.Process) error { return endWith(p, exitKilled) }

// endWith ends p with TerminateProcess(code). p's own handle keeps its pid from being reused,
// so opening the process by pid finds p.
func endWith(p *os.Process, code uint32) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		return p.Kill() // gone, or not ours to open: os says which (ErrProcessDone)
	}
	defer windows.CloseHandle(h)
	if err := windows.TerminateProcess(h, code); err != nil {
		return p.Kill()
	}
	return nil
}

func exitCode(ps *os.ProcessState) (int, bool) {
	switch uint32(ps.ExitCode()) {
	case exitTerminated:
		return -15, true
	case exitKilled:
		return -9, true
	}
	return ps.ExitCode(), false
}
