//go:build windows

package procs

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows files pass to the child as inherited handles, which keep their values. A daemon
// entry child watches its lifeline pipe; a daemon Command joins this process's job object,
// which kills it when this process ends (tieToParent).

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

// parentJob is this process's job object for daemon Commands: it kills every process in it
// when its last handle closes, which is when this process ends (the handle is not inherited).
var parentJob = sync.OnceValues(func() (windows.Handle, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return 0, err
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return 0, err
	}
	return job, nil
})

// tieToParent puts a daemon Command's process in parentJob, so it dies with this process, as
// the parent-death signal makes it on Linux. Processes it starts from then on join the job
// too; one it started before (in the moment between its start and this call) does not.
func tieToParent(p *os.Process) error {
	job, err := parentJob()
	if err != nil {
		return fmt.Errorf("job object: %w", err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.AssignProcessToJobObject(job, h)
}

// peerFDs: a worker can duplicate a handle of the pool process into itself (same user).
const peerFDs = true

// openPeerFD duplicates handle fd of process pid into this process, as Linux's
// /proc/<pid>/fd/<n> opens a descriptor of another process.
func openPeerFD(pid, fd int) (uintptr, error) {
	src, err := windows.OpenProcess(windows.PROCESS_DUP_HANDLE, false, uint32(pid))
	if err != nil {
		return 0, fmt.Errorf("procs: open process %d to take its handle %#x: %w", pid, fd, err)
	}
	defer windows.CloseHandle(src)
	var h windows.Handle
	if err := windows.DuplicateHandle(src, windows.Handle(fd), windows.CurrentProcess(), &h, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return 0, fmt.Errorf("procs: duplicate handle %#x of process %d: %w", fd, pid, err)
	}
	return uintptr(h), nil
}
