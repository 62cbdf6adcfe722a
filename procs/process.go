package procs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// NotExited is what ExitCode returns while the process is still running (Python's None).
const NotExited = math.MinInt

// DefaultGracePeriod is how long a child has between SIGTERM and SIGKILL when its context ends.
const DefaultGracePeriod = 2 * time.Second

// A Process is a running or finished child started by an EntryPoint or a Cmd.
//
// Wait and Join both wait for it to exit: Wait reports a failure (a non-zero exit, a panic, a
// signal) as an error, as exec.Cmd.Wait does; Join does not judge the exit, as Python's join()
// does (check ExitCode).
type Process struct {
	name   atomic.Pointer[string] // a warm spare is renamed when it is handed its entry
	daemon bool
	pid    int
	proc   *os.Process
	done   chan struct{}
	code   int   // valid once done is closed
	err    error // valid once done is closed: nil or *ExitError
}

// An Option configures a child at Start.
type Option func(*options)

type options struct {
	name           string
	daemon         bool
	noSpare        bool
	stdout, stderr io.Writer
	env            []string
	grace          time.Duration
}

func newOptions(opts []Option) *options {
	o := &options{daemon: true, stdout: os.Stdout, stderr: os.Stderr, grace: DefaultGracePeriod}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithName names the child. The default is the entry's name and a sequence number
// ("worker-3"), not Python's "Process-3": an entry has a name, which says what the child runs
// in ps, logs and errors, where Python's target function does not get to.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// Daemon chooses whether the child dies with its parent (true, the default), even when the
// parent is killed by SIGKILL. Python's default is the opposite; a daemonic default is safer
// for workers that spin on shared memory. Daemon(false) children outlive their parent.
//
// An entry child watches a pipe whose only writer is its parent: when the parent dies, however
// it dies, the kernel closes it and the child kills itself at once, on every system. A Command
// child cannot watch a pipe, so on Linux it gets SIGKILL through the parent-death signal;
// elsewhere Daemon has no effect on a Command.
func Daemon(on bool) Option { return func(o *options) { o.daemon = on } }

// Spare chooses whether this start may take a warm spare when WarmSpares keeps some (true,
// the default); Spare(false) always execs.
func Spare(on bool) Option { return func(o *options) { o.noSpare = !on } }

// Stdout sends the child's standard output to w (default: the parent's os.Stdout).
func Stdout(w io.Writer) Option { return func(o *options) { o.stdout = w } }

// Stderr sends the child's standard error to w (default: the parent's os.Stderr).
func Stderr(w io.Writer) Option { return func(o *options) { o.stderr = w } }

// Env adds KEY=value pairs to the child's environment (which is otherwise the parent's).
func Env(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

// GracePeriod sets how long the child has between SIGTERM and SIGKILL when the context given
// to Start is done (DefaultGracePeriod).
func GracePeriod(d time.Duration) Option { return func(o *options) { o.grace = d } }

var (
	childSeq   atomic.Int64
	childrenMu sync.Mutex
	children   = map[*Process]struct{}{}
)

// start runs cmd and watches it. childEnds are the parent's copies of files the child
// inherits; they are closed once the child has them. statusR, if not nil, carries the child's
// report. lifeline, if not nil, is the write end of a pipe a daemon entry child watches: it is
// held open until the child exits, and the kernel closes it if this process dies first. A
// daemon child without one (a Command) gets the parent-death signal instead.
func start(cmd *exec.Cmd, name string, o *options, childEnds []*os.File, statusR, lifeline *os.File) (*Process, error) {
	pdeath := o.daemon && lifeline == nil
	configure(cmd, pdeath)
	cmd.Cancel = func() error { return terminate(cmd.Process) }
	cmd.WaitDelay = o.grace
	if cmd.Stdout == nil {
		cmd.Stdout = o.stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = o.stderr
	}
	cmd.Env = append(cmd.Env, o.env...)
	p := &Process{daemon: o.daemon, done: make(chan struct{})}
	p.name.Store(&name)
	var err error
	if pdeath {
		started := make(chan error, 1)
		go p.lockedMonitor(cmd, statusR, started)
		err = <-started
	} else if err = cmd.Start(); err == nil {
		p.started(cmd)
		go p.wait(cmd, statusR, lifeline)
	}
	for _, f := range childEnds {
		_ = f.Close()
	}
	if err != nil {
		if statusR != nil {
			_ = statusR.Close()
		}
		return nil, fmt.Errorf("procs: start %s: %w", name, err)
	}
	return p, nil
}

// lockedMonitor starts the child from a goroutine locked to its OS thread, and stays locked
// until the child exits: Linux's parent-death signal fires when the thread that forked the
// child ends, so that thread must outlive the child, and no other goroutine may end it. This
// costs the caller several hundred microseconds (the hand-back to it waits for the scheduler
// while this thread blocks in wait), which is why entries watch a lifeline pipe instead.
func (p *Process) lockedMonitor(cmd *exec.Cmd, statusR *os.File, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	if err := tieToParent(cmd.Process); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		started <- fmt.Errorf("tie the child to this process: %w", err)
		return
	}
	p.started(cmd)
	started <- nil
	p.wait(cmd, statusR, nil)
}

func (p *Process) started(cmd *exec.Cmd) {
	p.proc, p.pid = cmd.Process, cmd.Process.Pid
	childrenMu.Lock()
	children[p] = struct{}{}
	childrenMu.Unlock()
}

// wait reaps the child, reads its report, and publishes the result.
func (p *Process) wait(cmd *exec.Cmd, statusR, lifeline *os.File) {
	werr := cmd.Wait()
	if lifeline != nil {
		_ = lifeline.Close()
	}
	var st childStatus
	if statusR != nil {
		st = readStatus(statusR)
	}
	p.finish(cmd.ProcessState, werr, st)
	childrenMu.Lock()
	delete(children, p)
	childrenMu.Unlock()
	close(p.done)
}

func (p *Process) finish(ps *os.ProcessState, werr error, st childStatus) {
	if ps == nil {
		p.code = -1
		p.err = fmt.Errorf("procs: %s (pid %d): %w", p.Name(), p.pid, werr)
		return
	}
	code, signaled := exitCode(ps)
	p.code = code
	if code == 0 {
		return
	}
	e := &ExitError{Name: p.Name(), Pid: p.pid, Code: code, Message: st.msg}
	switch {
	case signaled:
		e.cause = ErrSignaled
	case st.kind == statusUnknown:
		e.cause = ErrUnknownEntry
	case st.kind == statusArgs:
		e.cause = ErrArgs
	case st.kind == statusPanic:
		e.cause = ErrPanic
	}
	p.err = e
}

// Daemon reports whether the child dies with this process (see the Daemon option).
func (p *Process) Daemon() bool { return p.daemon }

// String describes the child as Python's repr does: name, pid, and state or exit code.
func (p *Process) String() string {
	state := "started"
	if code := p.ExitCode(); code != NotExited {
		state = fmt.Sprintf("stopped exitcode=%d", code)
	}
	daemon := ""
	if p.daemon {
		daemon = " daemon"
	}
	return fmt.Sprintf("<Process name=%q pid=%d %s%s>", p.Name(), p.pid, state, daemon)
}

// JoinAll waits for every child this process started that is not a daemon, as Python's
// interpreter does for its non-daemonic children at exit (Go has no exit hook, so call it at
// the end of main). It returns nil: like Join, it
// does not judge the children's exits. Daemon children, the default, are not waited for: they
// die with this process.
func JoinAll() error { return JoinAllContext(context.Background()) }

// JoinAllContext is JoinAll that returns ctx's error if ctx ends first.
func JoinAllContext(ctx context.Context) error {
	for _, p := range ActiveChildren() {
		if p.daemon {
			continue
		}
		if err := p.JoinContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.pid }

// Name returns the child's name.
func (p *Process) Name() string { return *p.name.Load() }

// Done returns a channel that is closed when the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Alive reports whether the child is still running.
func (p *Process) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitCode returns the child's exit code: 0, the code its entry chose, or minus the number of
// the signal that ended it (as Python's exitcode). It is NotExited while the child runs.
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
		return p.code
	default:
		return NotExited
	}
}

// Wait waits for the child to exit and returns nil if it exited with code 0, or an *ExitError
// carrying its exit code and the error text it sent.
func (p *Process) Wait() error { return p.WaitContext(context.Background()) }

// WaitContext is Wait that returns ctx's error if ctx ends first; the child runs on.
func (p *Process) WaitContext(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Join waits for the child to exit, whatever its exit code (check ExitCode), as Python's
// join; it returns nil.
func (p *Process) Join() error { return p.JoinContext(context.Background()) }

// JoinContext is Join that returns ctx's error if ctx ends first; the child runs on.
func (p *Process) JoinContext(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Terminate asks the child to stop: SIGTERM on Unix; on Windows TerminateProcess, which ends
// it at once. ExitCode then reports -15 on both. It is a no-op for a child that has exited.
func (p *Process) Terminate() error { return p.signalOrDone(terminate) }

// Kill ends the child at once: SIGKILL on Unix, TerminateProcess on Windows. ExitCode then
// reports -9 on both.
func (p *Process) Kill() error { return p.signalOrDone(kill) }

func (p *Process) signalOrDone(send func(*os.Process) error) error {
	if !p.Alive() {
		return nil
	}
	if err := send(p.proc); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("procs: signal %s (pid %d): %w", p.Name(), p.pid, err)
	}
	return nil
}

// ActiveChildren returns the children of this process that are still running, by pid.
func ActiveChildren() []*Process {
	childrenMu.Lock()
	out := make([]*Process, 0, len(children))
	for p := range children {
		out = append(out, p)
	}
	childrenMu.Unlock()
	slices.SortFunc(out, func(a, b *Process) int { return a.pid - b.pid })
	return out
}

// ProcessInfo describes the current process.
type ProcessInfo struct {
	Name   string // the name given at Start in a child; "MainProcess" otherwise
	Pid    int
	PPid   int
	Child  bool // started by procs
	Daemon bool // a child that dies with its parent (the default)
}

var currentName atomic.Pointer[string]

// Current describes the calling process, as Python's current_process.
func Current() ProcessInfo {
	info := ProcessInfo{Name: "MainProcess", Pid: os.Getpid(), PPid: os.Getppid()}
	if n := currentName.Load(); n != nil {
		info.Name, info.Child, info.Daemon = *n, true, currentDaemon.Load()
	}
	return info
}

var currentDaemon atomic.Bool

// parent is what a child learns of its parent as it starts (see Parent).
var parent atomic.Pointer[ParentProcess]

// A ParentProcess is the process that started this one: Python's parent_process().
type ParentProcess struct {
	pid   int
	start uint64 // its start time (pidinfo), read when this child began: 0 if it was gone
	name  string
}

// Parent returns the process that started this one through procs, or nil in a process that
// procs did not start (Python's parent_process() returns None there).
func Parent() *ParentProcess { return parent.Load() }

// Pid returns the parent's process id.
func (p *ParentProcess) Pid() int { return p.pid }

// Name returns the parent's name: "MainProcess", or its own name if it is a procs child too.
func (p *ParentProcess) Name() string { return p.name }

// Alive reports whether the parent still runs. On Unix a process whose parent died is adopted
// by another (its parent pid changes), so this holds exactly while the parent lives; on
// Windows, where the recorded parent pid never changes, the parent is looked up by pid and
// start time.
func (p *ParentProcess) Alive() bool { return parentAlive(p) }

// Wait blocks until the parent has exited or ctx ends (Python's parent_process().join()). It
// checks every 10 ms.
func (p *ParentProcess) Wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for p.Alive() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// String shows the parent as Python's repr does: name, pid, and whether it runs.
func (p *ParentProcess) String() string {
	state := "started"
	if !p.Alive() {
		state = "stopped"
	}
	return fmt.Sprintf("<ParentProcess name=%q parent=%d %s>", p.name, p.pid, state)
}
