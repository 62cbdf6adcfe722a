//go:build !unix

package procs

import (
	"io"
	"os"

	"github.com/shmkit/shmkit/internal/pidinfo"
	"github.com/shmkit/shmkit/shm"
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

// fileID: no device and inode here; a segment is told apart by its ID (the same in every
// process, different for every segment made).
func fileID(seg *shm.Segment) (dev, ino uint64, err error) { return 0, seg.ID(), nil }

// parentStart is the parent's start time, for parentAlive; 0 if it is gone already.
func parentStart(ppid int) uint64 {
	start, _ := pidinfo.StartTime(ppid)
	return start
}

// parentAlive: elsewhere (Windows) the parent pid recorded at a process's creation never
// changes, so the parent itself is looked up, by pid and start time (a reused pid is not it).
func parentAlive(p *ParentProcess) bool { return pidinfo.Alive(p.pid, p.start) }
