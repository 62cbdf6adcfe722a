//go:build !unix && !windows

package procs

import (
	"fmt"
	"io"
	"os"
	"os/exec"
)

func selfExe() string                       { return os.Args[0] }
func configure(*exec.Cmd, bool)             {}
func passFiles(*exec.Cmd, []*os.File) []int { return nil }
func inherit(fd int, name string) *os.File  { return os.NewFile(uintptr(fd), name) }

// readPending reads the status pipe to its end, which comes when the child exits: handles
// are not inherited by the child's own children here.
func readPending(r *os.File) []byte {
	b, _ := io.ReadAll(r)
	return b
}

func terminate(p *os.Process) error            { return p.Kill() }
func exitCode(ps *os.ProcessState) (int, bool) { return ps.ExitCode(), false }
func dieWithParent()                           { os.Exit(1) }

func dupForChild(uintptr) (*os.File, error) {
	return nil, fmt.Errorf("%w: passing segments to a child", ErrNotSupported)
}

// watchLifeline: a goroutine reads the lifeline until the parent's end closes.
func watchLifeline(f *os.File) { watchInBackground(f) }
