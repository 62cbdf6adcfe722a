//go:build !unix

package procs

import (
	"io"
	"os"
)

// readPending reads the status pipe to its end, which comes when the child exits: handles
// are not inherited by the child's own children here.
func readPending(r *os.File) []byte {
	b, _ := io.ReadAll(r)
	return b
}

// watchLifeline: a goroutine reads the lifeline until the parent's end closes.
func watchLifeline(f *os.File) { watchInBackground(f) }

// dieWithParent ends a daemon child whose parent is gone.
func dieWithParent() { os.Exit(1) }

// fileID: no device and inode here; segments are told apart by name.
func fileID(uintptr) (dev, ino uint64, err error) { return 0, 0, nil }
