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

func terminate(p *os.Process) error { return p.Kill() }

func exitCode(ps *os.ProcessState) (int, bool) { return ps.ExitCode(), false }
