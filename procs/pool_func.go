package procs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/internal/remote"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/shm"
)

// A Fn is a function a Pool's workers run, registered by name with Func: Python's Pool finds
// its functions by qualified name, and so do a Pool's worker processes, which re-execute this
// program.
type Fn[In, Out any] struct {
	name string
	key  uint64 // xxhash of name: what a task record names the function by
	late bool
	in   elemCodec[In]
	out  elemCodec[Out]
}

// Func registers fn under name for Pools (one namespace with Entry), and returns the Fn to
// pass to Map, Imap and Apply. Call it in a package-level var declaration, so every process of
// the program registers it before main runs:
//
//	var square = procs.Func("square", func(ctx context.Context, x int64) (int64, error) { return x * x, nil })
//
// In and Out travel by copy. Types of fixed size with no pointers (numbers, bools, arrays and
// structs of them) are copied as raw bytes, with no reflection or encoding per item; any other
// Go value goes through the codec (strings, slices, maps, interface values of registered
// types, shared objects as handles). A type that cannot travel at all (a func, a chan) makes
// Func panic, as a bad flag definition does.
func Func[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error)) *Fn[In, Out] {
	if name == "" || fn == nil {
		panic("procs: Func needs a name and a func")
	}
	f := &Fn[In, Out]{name: name, key: xxhash.Sum64String(name), in: newElemCodec[In](), out: newElemCodec[Out]()}
	for _, c := range []struct {
		what string
		t    reflect.Type
	}{{"input", reflect.TypeFor[In]()}, {"output", reflect.TypeFor[Out]()}} {
		if err := codec.Check(c.t); err != nil {
			panic(fmt.Sprintf("procs: Func %q: its %s type %s cannot travel: %v", name, c.what, c.t, err))
		}
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("procs: Func registered twice: " + name)
	}
	if other, dup := funcKeys[f.key]; dup {
		panic(fmt.Sprintf("procs: Func names %q and %q hash alike; rename one", name, other))
	}
	registry[name] = &entry{prepare: func([]byte, func(int) (shm.Shareable, error)) (func(context.Context) error, error) {
		return nil, fmt.Errorf("%q is a Func for a Pool, not an Entry to start", name)
	}}
	funcKeys[f.key] = name
	funcs[f.key] = f.serve(fn)
	remote.Register(name, f.runEncoded)
	f.late = mainCalled.Load()
	return f
}

// runEncoded runs f over codec-encoded inputs on p and returns the outputs encoded: what a
// cluster worker does with a task that names f (see package internal/remote). The codec, not
// raw bytes, because the inputs may come from a host of another byte order. The task is
// already one chunk of a larger call and the worker runs several at once, so it is split
// only once per local worker, not Map's four times (small tasks: 1.5× the inputs a second).
func (f *Fn[In, Out]) runEncoded(ctx context.Context, p remote.Pool, inputs []byte) ([]byte, error) {
	var ins []In
	if err := codec.Unmarshal(inputs, &ins); err != nil {
		return nil, fmt.Errorf("%w: the inputs of %q: %v", ErrArgs, f.name, err)
	}
	pool := p.(*Pool)
	outs, err := Map(ctx, pool, f, ins, Chunk(max(1, (len(ins)+pool.Workers()-1)/pool.Workers())))
	if err != nil {
		return nil, err
	}
	return codec.Marshal(outs)
}

var (
	funcKeys = map[uint64]string{}    // under registryMu
	funcs    = map[uint64]serveFunc{} // under registryMu
)

func lookupFunc(key uint64) serveFunc {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return funcs[key]
}

// Name returns the name the function was registered under.
func (f *Fn[In, Out]) Name() string { return f.name }

// An elemCodec moves a slice of T through a record: as raw bytes when T is flat (fixed size,
// no pointers), through the codec otherwise.
type elemCodec[T any] struct {
	flat bool
	size int
}

func newElemCodec[T any]() elemCodec[T] {
	t := reflect.TypeFor[T]()
	return elemCodec[T]{flat: isFlat(t), size: int(t.Size())}
}

// isFlat reports whether t's bytes are its value: numbers, bools, and arrays and structs of
// them. Unlike a shared layout, a record between a pool and its workers is read by the same
// binary, so int and uint qualify.
func isFlat(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return isFlat(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !isFlat(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// raw is the bytes of s's elements, for a flat T.
func raw[T any](s []T, size int) []byte {
	if len(s) == 0 || size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*size)
}

// encodedSize is the bytes s takes in a record.
func (c elemCodec[T]) encodedSize(enc *codec.Encoder, s []T) (int, error) {
	if c.flat {
		return len(s) * c.size, nil
	}
	return enc.Size(reflect.ValueOf(s))
}

// put writes s into dst, which is exactly encodedSize long.
func (c elemCodec[T]) put(enc *codec.Encoder, dst []byte, s []T) error {
	if c.flat {
		copy(dst, raw(s, c.size))
		return nil
	}
	b, err := enc.Append(dst[:0], reflect.ValueOf(s))
	if err == nil && (len(b) != len(dst) || len(b) > 0 && &b[0] != &dst[0]) {
		err = fmt.Errorf("procs: an encoding of %d bytes where %d were measured", len(b), len(dst))
	}
	return err
}

// view returns the n values in b: in place for a flat T (b is 8-aligned in the ring, and the
// values are copied as they are passed on), decoded into *scratch otherwise.
func (c elemCodec[T]) view(b []byte, n int, scratch *[]T, attach attachFunc) ([]T, error) {
	if c.flat {
		if len(b) != n*c.size {
			return nil, fmt.Errorf("%d bytes for %d values of %d", len(b), n, c.size)
		}
		if n == 0 || c.size == 0 {
			return make([]T, n), nil
		}
		return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n), nil
	}
	*scratch = (*scratch)[:0]
	d := codec.Decoder{Attach: attach}
	rest, err := d.Decode(b, reflect.ValueOf(scratch).Elem())
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%d bytes left over", len(rest))
	}
	if err != nil {
		return nil, err
	}
	if len(*scratch) != n {
		return nil, fmt.Errorf("%d values where %d were sent", len(*scratch), n)
	}
	return *scratch, nil
}

// get copies the n values in b into dst (len(dst) == n).
func (c elemCodec[T]) get(b []byte, dst []T) error {
	if c.flat {
		if len(b) != len(dst)*c.size {
			return fmt.Errorf("%d bytes for %d values of %d", len(b), len(dst), c.size)
		}
		copy(raw(dst, c.size), b)
		return nil
	}
	var s []T
	if err := codec.Unmarshal(b, &s); err != nil {
		return err
	}
	if len(s) != len(dst) {
		return fmt.Errorf("%d values where %d were wanted", len(s), len(dst))
	}
	copy(dst, s)
	return nil
}

// The records between a pool and a worker. A task: its id, the function's key, the number of
// inputs, then the inputs. A result: the task's id, the index of its first output within the
// task, the number of outputs, a status, and whether it is the task's last record; then the
// outputs, or for a failure the message. A task's outputs may take several records, each
// within the pipe's longest record.
const (
	taskHeader   = 24
	resultHeader = 24
)

const (
	resultOK byte = iota
	resultError
	resultPanic
	resultArgs    // the inputs did not decode
	resultUnknown // the function is not registered in the worker's binary
	resultReady   // the worker is up and its Init ran (id 0)
	resultInitFailed
)

func putTaskHeader(b []byte, id, key uint64, n int, shared bool) {
	binary.LittleEndian.PutUint64(b, id)
	binary.LittleEndian.PutUint64(b[8:], key)
	flags := uint64(n)
	if shared {
		flags |= taskShared
	}
	binary.LittleEndian.PutUint64(b[16:], flags)
}

// taskShared, in a task's count word, says its inputs hold shared objects: a table of their
// handles comes first.
const taskShared = 1 << 63

type resultHead struct {
	id           uint64
	start, count int
	status       byte
	last         bool
}

func putResultHeader(b []byte, h resultHead) {
	binary.LittleEndian.PutUint64(b, h.id)
	binary.LittleEndian.PutUint32(b[8:], uint32(h.start))
	binary.LittleEndian.PutUint32(b[12:], uint32(h.count))
	b[16] = h.status
	b[17] = 0
	if h.last {
		b[17] = 1
	}
}

func parseResult(rec []byte) (resultHead, []byte, error) {
	if len(rec) < resultHeader {
		return resultHead{}, nil, fmt.Errorf("%w: a result record of %d bytes", ring.ErrCorrupt, len(rec))
	}
	return resultHead{
		id:     binary.LittleEndian.Uint64(rec),
		start:  int(binary.LittleEndian.Uint32(rec[8:])),
		count:  int(binary.LittleEndian.Uint32(rec[12:])),
		status: rec[16],
		last:   rec[17] == 1,
	}, rec[resultHeader:], nil
}

// A serveFunc runs one task in a worker: it views the inputs in the task record, runs the
// function on each, and writes the outputs (or the failure) to the result pipe.
type serveFunc func(ctx context.Context, s *server, id uint64, args []byte, n int, attach attachFunc) error

// attachFunc attaches the i'th shared object of a task's inputs (nil: the task has none).
type attachFunc = func(i int) (shm.Shareable, error)

// server is a worker's side of its two pipes.
type server struct {
	in    *ring.Reader
	out   *ring.Writer
	limit int // the longest result payload
	enc   codec.Encoder
}

// fail sends a task's failure as its only (last) record.
func (s *server) fail(id uint64, status byte, msg string) error { return s.failAt(id, status, 0, msg) }

// failAt sends the failure of a task's input at index i (within the task).
func (s *server) failAt(id uint64, status byte, i int, msg string) error {
	if len(msg) > s.limit {
		msg = msg[:s.limit]
	}
	b, err := s.out.Reserve(resultHeader + len(msg))
	if err != nil {
		return err
	}
	putResultHeader(b, resultHead{id: id, start: i, status: status, last: true})
	copy(b[resultHeader:], msg)
	return s.out.Commit()
}

func (f *Fn[In, Out]) serve(fn func(context.Context, In) (Out, error)) serveFunc {
	var inScratch []In
	var outs []Out
	return func(ctx context.Context, s *server, id uint64, args []byte, n int, attach attachFunc) (err error) {
		ins, derr := f.in.view(args, n, &inScratch, attach)
		if derr != nil {
			return s.fail(id, resultArgs, fmt.Sprintf("the inputs of %q: %v", f.name, derr))
		}
		if cap(outs) < n {
			outs = make([]Out, n)
		}
		outs = outs[:n]
		at, status, msg := runAll(ctx, fn, ins, outs)
		if status == resultOK {
			err = sendOutputs(s, f.out, id, outs)
		} else {
			err = s.failAt(id, status, at, msg)
		}
		// Between tasks the scratch slices keep nothing alive: values that hold pointers are
		// dropped (flat ones hold none, and are left as they are).
		if !f.in.flat {
			clear(inScratch)
		}
		if !f.out.flat {
			clear(outs)
		}
		return err
	}
}

// runAll runs fn on every input, stopping at the first error or panic: at is the index of
// the input it failed on.
func runAll[In, Out any](ctx context.Context, fn func(context.Context, In) (Out, error), ins []In, outs []Out) (at int, status byte, msg string) {
	defer func() {
		if p := recover(); p != nil {
			status, msg = resultPanic, fmt.Sprintf("panic: %v\n\n%s", p, debug.Stack())
		}
	}()
	for at = range ins {
		out, err := fn(ctx, ins[at])
		if err != nil {
			return at, resultError, err.Error()
		}
		outs[at] = out
	}
	return 0, resultOK, ""
}

// sendOutputs writes a task's outputs in as few records as fit the pipe, the last one marked.
func sendOutputs[Out any](s *server, c elemCodec[Out], id uint64, outs []Out) error {
	limit := s.limit
	start := 0
	for {
		end := len(outs)
		size, err := c.encodedSize(&s.enc, outs[start:end])
		for err == nil && size > limit && end-start > 1 {
			end = start + (end-start)/2
			size, err = c.encodedSize(&s.enc, outs[start:end])
		}
		if err == nil && size > limit {
			err = fmt.Errorf("%w: one output encodes in %d bytes, a worker's result pipe carries %d", ring.ErrTooLarge, size, limit)
		}
		if err != nil {
			return s.fail(id, resultError, fmt.Sprintf("procs: encoding the outputs of task %d: %v", id, err))
		}
		b, err := s.out.Reserve(resultHeader + size)
		if err != nil {
			return err
		}
		last := end == len(outs)
		putResultHeader(b, resultHead{id: id, start: start, count: end - start, status: resultOK, last: last})
		if err := c.put(&s.enc, b[resultHeader:], outs[start:end]); err != nil {
			// The space is taken: fill it with the failure, as the task's last record.
			msg := fmt.Sprintf("procs: encoding the outputs of task %d: %v", id, err)
			putResultHeader(b, resultHead{id: id, status: resultError, last: true})
			n := copy(b[resultHeader:], msg)
			clear(b[resultHeader+n:])
			return s.out.Commit()
		}
		if err := s.out.Commit(); err != nil || last {
			return err
		}
		start = end
	}
}

// workerArgs is what a pool worker receives. The argument of its Init entry follows it in the
// launch spec, decoded by that entry.
type workerArgs struct {
	Tasks   *ring.Pipe
	Results *ring.Pipe
	Current *ctypes.Value[uint64] // the id of the task the worker runs: what its death loses
	Init    string                // the name of the Init entry, or ""
}

const poolWorkerEntry = "procs.poolWorker"

func init() {
	registry[poolWorkerEntry] = &entry{prepare: preparePoolWorker}
}

func preparePoolWorker(b []byte, attach func(int) (shm.Shareable, error)) (func(context.Context) error, error) {
	var a workerArgs
	d := codec.Decoder{Attach: attach}
	rest, err := d.Decode(b, reflect.ValueOf(&a).Elem())
	if err != nil {
		return nil, codec.AtPath(err, "args")
	}
	var initRun func(context.Context) error
	if a.Init != "" {
		e := lookup(a.Init)
		if e == nil || e.prepare == nil {
			return nil, fmt.Errorf("%w: the pool's Init %q", ErrUnknownEntry, a.Init)
		}
		if initRun, err = e.prepare(rest, attach); err != nil {
			return nil, err
		}
	} else if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes left over after the argument", len(rest))
	}
	return func(ctx context.Context) error { return servePool(ctx, a, initRun) }, nil
}

// servePool is a pool worker's life: Init, the ready record, then tasks until the pool closes
// the task pipe.
func servePool(ctx context.Context, a workerArgs, initRun func(context.Context) error) error {
	in, err := a.Tasks.Reader()
	if err != nil {
		return err
	}
	out, err := a.Results.Writer()
	if err != nil {
		return err
	}
	s := &server{in: in, out: out, limit: a.Results.MaxRecord() - resultHeader}
	if initRun != nil {
		restoreProcs() // user code sees the default, as in every entry
		if msg, failed := runInit(ctx, initRun); failed {
			_ = s.fail(0, resultInitFailed, msg)
			return out.Close()
		}
	}
	if err := s.fail(0, resultReady, ""); err != nil {
		return err
	}
	restoreProcs() // after ready: the parent need not wait for it (see restoreProcs)
	for {
		rec, err := in.NextContext(ctx)
		if errors.Is(err, io.EOF) {
			return out.Close()
		}
		if err != nil {
			return err
		}
		if len(rec) < taskHeader {
			return fmt.Errorf("%w: a task record of %d bytes", ring.ErrCorrupt, len(rec))
		}
		id := binary.LittleEndian.Uint64(rec)
		key := binary.LittleEndian.Uint64(rec[8:])
		flags := binary.LittleEndian.Uint64(rec[16:])
		n, args := int(flags&^taskShared), rec[taskHeader:]
		if err := a.Current.Store(id); err != nil {
			return err
		}
		var attach attachFunc
		if flags&taskShared != 0 {
			attach, args, err = taskAttacher(args)
		}
		serve := lookupFunc(key)
		switch {
		case err != nil:
			err = s.fail(id, resultArgs, fmt.Sprintf("the shared objects of task %d: %v", id, err))
		case serve == nil:
			err = s.fail(id, resultUnknown, fmt.Sprintf("task %d names a Func this binary does not register", id))
		default:
			err = serve(ctx, s, id, args, n, attach)
		}
		if err != nil {
			return err
		}
		if err := in.Release(); err != nil {
			return err
		}
	}
}

func runInit(ctx context.Context, run func(context.Context) error) (msg string, failed bool) {
	defer func() {
		if p := recover(); p != nil {
			msg, failed = fmt.Sprintf("panic: %v\n\n%s", p, debug.Stack()), true
		}
	}()
	if err := run(ctx); err != nil {
		return err.Error(), true
	}
	return "", false
}
