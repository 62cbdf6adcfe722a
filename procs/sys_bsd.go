//go:build unix && !linux

package procs

import (
	"os"
	"os/exec"
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
