package procs

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/shm"
)

// The child protocol. The parent re-executes its own binary with SHMKIT_ENTRY set and two
// pipes: it writes the launch spec into the first, as a uvarint length and that many bytes,
// and the child writes one status record into the second just before it exits. Segments of the
// argument arrive by name, or as further inherited fds when anonymous. For a daemon child the
// parent keeps the spec pipe open until the child exits: the child reads on past the spec, and
// end-of-file means the parent has died.
const (
	envEntry  = "SHMKIT_ENTRY"      // entry name: its presence makes Main run the child
	envName   = "SHMKIT_NAME"       // the child's process name
	envPipes  = "SHMKIT_PIPES"      // "specFD,statusFD"
	envFiles  = "SHMKIT_FILES"      // fds of anonymous segments, comma-separated, in spec order
	envDaemon = "SHMKIT_DAEMON"     // "1": die when the spec pipe reaches end-of-file
	envProcs  = "SHMKIT_GOMAXPROCS" // "1": GOMAXPROCS=1 is for the start only; Main restores the default
	envParent = "SHMKIT_PARENT"     // the parent's process name
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

// restoreProcs gives a child started with GOMAXPROCS=1 (childEnv) the runtime's default back,
// once. It costs 0.25 ms alone and over a millisecond while another process starts beside it,
// so it is done where nobody waits for it: in an idle spare before its hand-off arrives; in a
// pool worker without Init just after its ready record, not before; otherwise before any of
// the user's code (an entry, a pool's Init, a task) runs.
var restoreProcs = func() {}

func runChild(name string) int {
	if os.Getenv(envProcs) == "1" {
		restoreProcs = sync.OnceFunc(func() {
			_ = os.Unsetenv("GOMAXPROCS") // so the default holds here and in this child's children
			runtime.SetDefaultGOMAXPROCS()
		})
	}
	_ = os.Unsetenv(envProcs)
	env := map[string]string{}
	for _, k := range []string{envEntry, envName, envPipes, envFiles, envDaemon, envParent} {
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
	var data []byte
	var err error
	if name == spareEntry {
		// A warm spare: wait for the entry, its name and spec, and the segments' descriptors.
		if !readable(specF) {
			restoreProcs() // idle until the hand-off: nobody waits for this
		}
		var cn string
		name, cn, data, files, err = receiveHandOff(specF)
		if errors.Is(err, io.EOF) {
			_ = statusF.Close()
			return 0 // let go without an entry (or the parent died)
		}
		env[envName] = cn
	} else {
		data, err = readSpec(specF)
	}
	cname := env[envName]
	currentName.Store(&cname)
	currentDaemon.Store(env[envDaemon] == "1")
	ppid := os.Getppid()
	parent.Store(&ParentProcess{pid: ppid, start: parentStart(ppid), name: cmp.Or(env[envParent], "MainProcess")})
	if env[envDaemon] == "1" {
		watchLifeline(specF)
	} else {
		_ = specF.Close()
	}
	if name != poolWorkerEntry {
		restoreProcs()
	}
	e := lookup(name)
	if e == nil {
		return report(statusUnknown, 1, fmt.Sprintf("%v: %q is not registered in this binary", ErrUnknownEntry, name))
	}
	var spec launchSpec
	if err == nil {
		err = codec.Unmarshal(data, &spec)
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
	if kind == statusPanic {
		// As any Go program that panics: the panic and its stack on the child's own stderr,
		// besides the report to the parent.
		fmt.Fprintf(os.Stderr, "procs: entry %q (process %s, pid %d): %s\n", name, cname, os.Getpid(), msg)
	}
	return report(kind, code, msg)
}

// lifeline keeps the daemon child's end of the spec pipe open (and reachable) for its life.
var lifeline *os.File

// watchInBackground ends the process when f, read past the spec, reaches end-of-file: the
// parent has died and the kernel closed its end.
func watchInBackground(f *os.File) {
	lifeline = f
	go func() {
		_, _ = io.Copy(io.Discard, f)
		dieWithParent()
	}()
}

// readSpec reads one length-prefixed launch spec.
func readSpec(r io.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(byteReader{r})
	if err != nil {
		return nil, fmt.Errorf("spec length: %w", err)
	}
	if n > 1<<30 {
		return nil, fmt.Errorf("spec of %d bytes", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// byteReader reads one byte at a time, so nothing past the length prefix is consumed early.
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.r, c[:])
	return c[0], err
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
// child is reaped it is in the pipe, and readPending takes it without waiting.
func readStatus(r *os.File) childStatus {
	defer r.Close()
	b := readPending(r)
	if len(b) < 2 {
		return childStatus{}
	}
	_, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return childStatus{}
	}
	return childStatus{kind: b[0], msg: string(b[1+n:])}
}

// startEntry encodes the argument, prepares the pipes and environment, and starts the child.
// The args are encoded one after the other; the entry's prepare decodes them in turn.
func startEntry(ctx context.Context, entryName string, opts []Option, args ...reflect.Value) (*Process, error) {
	o := newOptions(opts)
	name := o.name
	if name == "" {
		name = fmt.Sprintf("%s-%d", entryName, childSeq.Add(1))
	}
	sh, spec, err := encodeSpec(args)
	if err != nil {
		return nil, err
	}
	defer sh.closeFiles()
	if o.spareOK() {
		spares := globalSpares.Load()
		if sp := spares.take(); sp != nil {
			p, err := sp.handOff(ctx, entryName, name, spec, sh, o.grace)
			spares.refill()
			if err == nil {
				return p, nil
			}
		}
	}
	return execEntry(ctx, entryName, name, o, spec, sh)
}

// encodeSpec encodes the launch spec of args, collecting their shared objects.
func encodeSpec(args []reflect.Value) (*sharer, []byte, error) {
	sh := &sharer{}
	enc := codec.Encoder{Share: sh.share}
	var argBytes []byte
	for _, a := range args {
		var err error
		if argBytes, err = enc.Append(argBytes, a); err != nil {
			sh.closeFiles()
			return nil, nil, fmt.Errorf("%w: %w", ErrEncode, codec.AtPath(err, "args"))
		}
	}
	sh.spec.Args = argBytes
	spec, err := codec.Marshal(sh.spec)
	if err != nil {
		sh.closeFiles()
		return nil, nil, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	return sh, spec, nil
}

// execEntry execs a child for the entry and sends it the spec.
func execEntry(ctx context.Context, entryName, name string, o *options, spec []byte, sh *sharer) (*Process, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		_, _ = specR.Close(), specW.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, selfExe())
	cmd.Args = []string{os.Args[0]}
	files := sh.files
	sh.files = nil // start closes them once the child has them
	childEnds := append([]*os.File{specR, statusW}, files...)
	fds := passFiles(cmd, childEnds)
	cmd.Env = childEnv(envEntry+"="+entryName, envName+"="+name,
		envPipes+"="+joinFDs(fds[:2]), envFiles+"="+joinFDs(fds[2:]))
	var lifeline *os.File
	if o.daemon {
		cmd.Env = append(cmd.Env, envDaemon+"=1")
		lifeline = specW
	}
	p, err := start(cmd, name, o, childEnds, statusR, lifeline)
	if err != nil {
		_ = specW.Close()
		return nil, err
	}
	if err := sh.expect(p.pid); err != nil {
		_ = specW.Close()
		_ = p.Kill()
		_ = p.WaitContext(context.Background())
		return nil, fmt.Errorf("%w: %v", ErrEncode, err)
	}
	// A write error means the child died already, which its exit status shows; a daemon's
	// lifeline may even be closed by now.
	_, _ = specW.Write(binary.AppendUvarint(nil, uint64(len(spec))))
	_, _ = specW.Write(spec)
	if lifeline == nil {
		_ = specW.Close()
	}
	return p, nil
}

type reflectValue = reflect.Value

// childEnv is the environment of an entry's child: this process's, less procs' own variables,
// plus extra. Unless GOMAXPROCS is set here, the child's runtime starts with GOMAXPROCS=1 and
// Main restores the default before the entry runs: a runtime starting with one P starts fewer
// threads and wakes fewer of them while it initialises (on a 2-vCPU AMD EPYC guest, an exec of
// a test binary to its exit took 10.4 ms with the default and 9.2 ms so; a pool of two workers
// was ready 15% sooner). Package initialisers in the child see GOMAXPROCS 1.
func childEnv(extra ...string) []string {
	env := append(withoutProcsEnv(os.Environ()), extra...)
	env = append(env, envParent+"="+Current().Name)
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		env = append(env, "GOMAXPROCS=1", envProcs+"=1")
	}
	return env
}

// withoutProcsEnv drops this package's own variables, so a child of a child starts clean.
func withoutProcsEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case envEntry, envName, envPipes, envFiles, envDaemon, envProcs, envParent:
		default:
			out = append(out, kv)
		}
	}
	return out
}
