package procs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/shmkit/shmkit/shm"
)

// A Cmd runs an arbitrary executable (a Python script, a C program) wired to shmkit segments
// through environment variables and inherited file descriptors. Set up the embedded exec.Cmd
// (Stdout, Dir, ExtraFiles, …) before calling Share, then Start it.
type Cmd struct {
	*exec.Cmd
	opts  []Option
	files []*os.File // duplicates of anonymous segments' fds, closed once the child has them
}

// Command prepares name with args, as exec.CommandContext does: when ctx is done the child
// gets SIGTERM, then SIGKILL after the grace period. Options (WithName, Daemon, Env, …) apply
// as they do to an entry; the child is a daemon unless Daemon(false) is given.
func Command(ctx context.Context, name string, args []string, opts ...Option) *Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = os.Environ()
	return &Cmd{Cmd: c, opts: opts}
}

// Share passes seg to the child under the environment variable key:
//
//	key         the segment's name ("" for an anonymous segment)
//	key_FD      for an anonymous segment, the inherited fd that maps it
//	key_OFFSET  where the payload starts in the mapping: 0 for Raw, shm.HeaderSize otherwise
//	key_SIZE    the payload size in bytes
//
// Python attaches a named Raw segment with multiprocessing.shared_memory.SharedMemory(name);
// C with shm_open and mmap, or mmap of key_FD.
func (c *Cmd) Share(key string, seg *shm.Segment) error {
	if seg.Bytes() == nil {
		return fmt.Errorf("procs: share %s: %w", key, shm.ErrClosed)
	}
	off := shm.HeaderSize
	if seg.IsRaw() {
		off = 0
	}
	c.Env = append(c.Env, key+"="+seg.Name(), key+"_OFFSET="+strconv.Itoa(off), key+"_SIZE="+strconv.Itoa(seg.Size()))
	if seg.Name() == "" {
		f, err := dupForChild(seg.Fd())
		if err != nil {
			return err
		}
		c.files = append(c.files, f)
		c.Env = append(c.Env, key+"_FD="+strconv.Itoa(passFiles(c.Cmd, []*os.File{f})[0]))
	}
	return nil
}

// Start starts the executable and returns its Process.
func (c *Cmd) Start() (*Process, error) {
	o := newOptions(c.opts)
	name := o.name
	if name == "" {
		name = fmt.Sprintf("%s-%d", filepath.Base(c.Path), childSeq.Add(1))
	}
	files := c.files
	c.files = nil
	return start(c.Cmd, name, o, files, nil, nil)
}
