package procs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/shmkit/shmkit/internal/pidinfo"
	"github.com/shmkit/shmkit/shm"
)

// The child protocol. The parent re-executes its own binary with SHMKIT_ENTRY set and two
// pipes: it writes the launch spec into the first and the child writes one status record into
// the second just before it exits. Segments of the argument arrive by name, or as further
// inherited fds when anonymous.
const (
	envEntry = "SHMKIT_ENTRY" // entry name: its presence makes Main run the child
	envName  = "SHMKIT_NAME"  // the child's process name
	envPipes = "SHMKIT_PIPES" // "specFD,statusFD"
	envFiles = "SHMKIT_FILES" // fds of anonymous segments, comma-separated, in spec order
	envPPID  = "SHMKIT_PPID"  // "pid:starttime" of a daemon child's parent
)

// Status record kinds: one byte, then the exit code as a uvarint, then the message.
const (
	statusOK byte = iota
	statusUnknown
	statusArgs
	statusPanic
)

const maxStatusMsg = 32 << 10 // the record must fit a pipe buffer: the child writes it then exits

type childStatus struct {
	kind byte
	msg  string
}

// Main must be the first statement of main (and of TestMain in tests that start children).
// In the parent it only notes that it ran and returns. In a child started by procs it runs the
// requested entry and exits the process with the entry's exit code: it never returns.
func Main() {
	mainCalled.Store(true)
	name, ok := os.LookupEnv(envEntry)
	if !ok {
		return
	}
	os.Exit(runChild(name))
}

func runChild(name string) int {
	env := map[string]string{}
	for _, k := range []string{envEntry, envName, envPipes, envFiles, envPPID} {
		env[k] = os.Getenv(k)
		_ = os.Unsetenv(k) // so processes this child starts are not children of procs
	}
	pipes, files := parseFDs(env[envPipes]), parseFDs(env[envFiles])
	if len(pipes) != 2 {
		fmt.Fprintf(os.Stderr, "procs: child %q started without its pipes\n", name)
		return 2
	}
	specF, statusF := inherit(pipes[0], "spec"), inherit(pipes[1], "status")
	report := func(kind byte, code int, msg string) int {
		if len(msg) > maxStatusMsg {
			msg = msg[:maxStatusMsg] + "…(truncated)"
		}
		rec := binary.AppendUvarint([]byte{kind}, uint64(code))
		_, _ = statusF.Write(append(rec, msg...))
		_ = statusF.Close()
		return code
	}
	if env[envPPID] != "" && !watchParent(env[envPPID]) {
		return 1 // the parent died before this child got going
	}
	cname := env[envName]
	currentName.Store(&cname)

	data, err := io.ReadAll(specF)
	_ = specF.Close()
	e := lookup(name)
	if e == nil {
		return report(statusUnknown, 1, fmt.Sprintf("%v: %q is not registered in this binary", ErrUnknownEntry, name))
	}
	var spec launchSpec
	if err == nil {
		err = unmarshal(data, &spec)
	}
	if err != nil {
		return report(statusArgs, 1, fmt.Sprintf("%v: launch spec: %v", ErrArgs, err))
	}
	segs, err := openSegments(spec.Segments, files)
	defer closeSegments(segs)
	if err != nil {
		return report(statusArgs, 1, fmt.Sprintf("%v: %v", ErrArgs, err))
	}
	attach := func(i int) (shm.Shareable, error) {
		if i < 0 || i >= len(spec.Handles) || spec.Handles[i].Seg < 0 || spec.Handles[i].Seg >= len(segs) {
			return nil, fmt.Errorf("handle %d out of range", i)
		}
		h := spec.Handles[i]
		return shm.Attach(shm.Handle{Type: h.Type, Segment: segs[h.Seg], Offset: h.Offset, Param: h.Param})
	}
	run, err := e.prepare(spec.Args, attach)
	if err != nil {
		return report(statusArgs, 1, fmt.Sprintf("%v: %v", ErrArgs, err))
	}
	kind, code, msg := invoke(run)
	return report(kind, code, msg)
}

// invoke runs the entry, turning its error or panic into an exit code and a message.
func invoke(run func(context.Context) error) (kind byte, code int, msg string) {
	defer func() {
		if r := recover(); r != nil {
			kind, code, msg = statusPanic, 1, fmt.Sprintf("panic: %v\n\n%s", r, debug.Stack())
		}
	}()
	err := run(context.Background())
	if err == nil {
		return statusOK, 0, ""
	}
	code, msg = 1, err.Error()
	var ec exitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
		if _, plain := err.(codeError); plain {
			msg = ""
		}
	}
	if code < 0 || code > 255 {
		msg = fmt.Sprintf("(exit code %d out of range) %s", code, msg)
		code = 1
	}
	return statusOK, code, msg
}

func openSegments(specs []segmentSpec, files []int) ([]*shm.Segment, error) {
	segs := make([]*shm.Segment, 0, len(specs))
	for i, ss := range specs {
		fd := -1
		if ss.Ref.Name == "" {
			if ss.File < 0 || ss.File >= len(files) {
				return segs, fmt.Errorf("segment %d: inherited file %d out of range", i, ss.File)
			}
			fd = files[ss.File]
		}
		s, err := shm.OpenRef(ss.Ref, uintptr(fd))
		if err != nil {
			return segs, fmt.Errorf("segment %d: %w", i, err)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

func closeSegments(segs []*shm.Segment) {
	for _, s := range segs {
		_ = s.Close() // ErrClosed if the entry closed it itself
	}
}

func parseFDs(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func joinFDs(fds []int) string {
	s := make([]string, len(fds))
	for i, fd := range fds {
		s[i] = strconv.Itoa(fd)
	}
	return strings.Join(s, ",")
}

// readStatus reads the child's status record. The child wrote it before exiting, so once the
// child is reaped it is in the pipe; the deadline only guards against a grandchild that kept
// the pipe open.
func readStatus(r *os.File) childStatus {
	defer r.Close()
	_ = r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	b, _ := io.ReadAll(r)
	if len(b) == 0 {
		return childStatus{}
	}
	_, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return childStatus{}
	}
	return childStatus{kind: b[0], msg: string(b[1+n:])}
}

// startEntry encodes the argument, prepares the pipes and environment, and starts the child.
func startEntry(ctx context.Context, entryName string, args reflect.Value, opts []Option) (*Process, error) {
	o := newOptions(opts)
	name := o.name
	if name == "" {
		name = fmt.Sprintf("%s-%d", entryName, childSeq.Add(1))
	}
	sh := &sharer{}
	enc := &encoder{share: sh.share}
	if err := enc.encode(args, 0); err != nil {
		sh.closeFiles()
		return nil, fmt.Errorf("%w: %v", ErrEncode, atPath(err, "args"))
	}
	sh.spec.Args = enc.buf
	spec, err := marshal(sh.spec)
	if err != nil {
		sh.closeFiles()
		return nil, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		sh.closeFiles()
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		sh.closeFiles()
		_, _ = specR.Close(), specW.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, selfExe())
	cmd.Args = []string{os.Args[0]}
	childEnds := append([]*os.File{specR, statusW}, sh.files...)
	fds := passFiles(cmd, childEnds)
	cmd.Env = append(withoutProcsEnv(os.Environ()),
		envEntry+"="+entryName, envName+"="+name,
		envPipes+"="+joinFDs(fds[:2]), envFiles+"="+joinFDs(fds[2:]))
	if o.daemon {
		cmd.Env = append(cmd.Env, envPPID+"="+parentToken())
	}
	p, err := start(cmd, name, o, childEnds, statusR)
	if err != nil {
		_ = specW.Close()
		return nil, err
	}
	_, _ = specW.Write(spec) // a child that died already shows in its exit status
	_ = specW.Close()
	return p, nil
}

// withoutProcsEnv drops this package's own variables, so a child of a child starts clean.
func withoutProcsEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case envEntry, envName, envPipes, envFiles, envPPID:
		default:
			out = append(out, kv)
		}
	}
	return out
}

// parentToken identifies this process for a daemon child's watch: pid and start time.
func parentToken() string {
	pid, start := pidinfo.Self()
	return fmt.Sprintf("%d:%d", pid, start)
}

func parseToken(tok string) (pid int, start uint64) {
	a, b, _ := strings.Cut(tok, ":")
	pid, _ = strconv.Atoi(a)
	start, _ = strconv.ParseUint(b, 10, 64)
	return pid, start
}
