//go:build !unix && !windows

package procs

import (
	"fmt"
	"os"
	"os/exec"
)

func selfExe() string                       { return os.Args[0] }
func configure(*exec.Cmd, bool)             {}
func passFiles(*exec.Cmd, []*os.File) []int { return nil }
func inherit(fd int, name string) *os.File  { return os.NewFile(uintptr(fd), name) }

func terminate(p *os.Process) error            { return p.Kill() }
func kill(p *os.Process) error                 { return p.Kill() }
func exitCode(ps *os.ProcessState) (int, bool) { return ps.ExitCode(), false }

func dupForChild(uintptr) (*os.File, error) {
	return nil, fmt.Errorf("%w: passing segments to a child", ErrNotSupported)
}

// tieToParent: nothing can tie a child to this process here (see Daemon).
func tieToParent(*os.Process) error { return nil }
