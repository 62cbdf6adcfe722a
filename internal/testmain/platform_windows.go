package testmain

import (
	"os"
	"sync"
	"testing"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
	"golang.org/x/sys/windows"
)

// named holds every name Name has given out, for segments.
var named sync.Map

// track notes name for the leak check; there is nothing to remove when t ends: a section has
// no file, and ends with its last handle.
func track(_ testing.TB, name string) { named.Store(name, struct{}{}) }

// Windows keeps no directory of sections: a section lives while a handle to it is open, in any
// process. segments opens each name Name gave out; one that opens is left.
func segments() []string {
	var out []string
	named.Range(func(k, _ any) bool {
		name := k.(string)
		if s, err := shm.Open(name); err == nil {
			_ = s.Close()
			out = append(out, name)
		}
		return true
	})
	return out
}

// childPids lists running processes whose parent is this one (Windows has no zombies: an
// exited child leaves the list).
func childPids() []int {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil
	}
	defer windows.CloseHandle(snap)
	me := uint32(os.Getpid())
	var out []int
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if e.ParentProcessID == me && e.ProcessID != me {
			out = append(out, int(e.ProcessID))
		}
	}
	return out
}

// exitKilled is the exit code procs' Kill ends a process with on Windows, which its ExitCode
// reads as -9 (procs/sys_windows.go).
const exitKilled = 0x10000 | 9

// Kill ends the process pid at once, as SIGKILL does on Unix: TerminateProcess with the exit
// code procs' own Kill uses, so the death reads the same on both.
func Kill(pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.TerminateProcess(h, exitKilled)
}
