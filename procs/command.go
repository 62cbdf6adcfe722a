package procs

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/shmkit/shmkit/shm"
)

// A Cmd runs an arbitrary executable (a Python script, a C program) wired to shmkit segments
// through environment variables and inherited file descriptors. Set its fields, Share the
// segments, then Start it once; the Process that Start returns is how it is waited for,
// signalled and reaped (Cmd wraps an exec.Cmd rather than embedding it, so exec's own Run,
// Wait and Output cannot bypass procs' cancellation, daemon setup and child registry).
type Cmd struct {
	Stdin  io.Reader // the child's standard input (default: none)
	Stdout io.Writer // the child's standard output (default: Stdout option, else this one's)
	Stderr io.Writer // the child's standard error (default: Stderr option, else this one's)
	Dir    string    // the child's working directory (default: this one's)

	cmd     *exec.Cmd
	opts    []Option
	files   []*os.File // duplicates of anonymous segments' fds, closed once the child has them
	started bool
}

// Command prepares name with args, as exec.CommandContext does: when ctx is done the child
// gets SIGTERM, then SIGKILL after the grace period. Options (WithName, Daemon, Env, …) apply
// as they do to an entry; the child is a daemon unless Daemon(false) is given.
func Command(ctx context.Context, name string, args []string, opts ...Option) *Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = os.Environ()
	return &Cmd{cmd: c, opts: opts}
}

// Path returns the path of the executable the Cmd runs, as exec resolved it.
func (c *Cmd) Path() string { return c.cmd.Path }

// Args returns the command line, the executable's name first.
func (c *Cmd) Args() []string { return slices.Clone(c.cmd.Args) }

// Share passes seg to the child under the environment variable key:
//
//	key         the segment's name ("" for an anonymous segment)
//	key_FD      for an anonymous segment, the inherited fd that maps it
//	key_OFFSET  where the payload starts in the mapping (seg.PayloadOffset: 0 for Raw and Trailer
//	            segments, shm.HeaderSize otherwise)
//	key_SIZE    the payload size in bytes
//
// Python attaches a named Raw segment with multiprocessing.shared_memory.SharedMemory(name);
// C with shm_open and mmap, or mmap of key_FD.
func (c *Cmd) Share(key string, seg *shm.Segment) error {
	if seg.Bytes() == nil {
		return fmt.Errorf("procs: share %s: %w", key, shm.ErrClosed)
	}
	off := seg.PayloadOffset()
	if c.started {
		return fmt.Errorf("procs: share %s: %w", key, ErrStarted)
	}
	c.cmd.Env = append(c.cmd.Env, key+"="+seg.Name(), key+"_OFFSET="+strconv.Itoa(off), key+"_SIZE="+strconv.Itoa(seg.Size()))
	if seg.Name() == "" {
		f, err := dupForChild(seg.Fd())
		if err != nil {
			return err
		}
		c.files = append(c.files, f)
		c.cmd.Env = append(c.cmd.Env, key+"_FD="+strconv.Itoa(passFiles(c.cmd, []*os.File{f})[0]))
	}
	return nil
}

// Start starts the executable and returns its Process. A Cmd starts once: a second Start is
// ErrStarted.
func (c *Cmd) Start() (*Process, error) {
	if c.started {
		return nil, fmt.Errorf("procs: %s: %w", c.cmd.Path, ErrStarted)
	}
	c.started = true
	o := newOptions(c.opts)
	name := o.name
	if name == "" {
		name = fmt.Sprintf("%s-%d", filepath.Base(c.cmd.Path), childSeq.Add(1))
	}
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr, c.cmd.Dir = c.Stdin, c.Stdout, c.Stderr, c.Dir
	files := c.files
	c.files = nil
	return start(c.cmd, name, o, files, nil, nil)
}
