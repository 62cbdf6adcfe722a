package procs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/ring"
)

// A Fn is a function a Pool's workers run, registered by name with Func: Python's Pool finds
// its functions by qualified name, and so do a Pool's worker processes, which re-execute this
// program.
type Fn[In, Out any] struct {
	name string
	late bool
}

// Func registers fn under name for Pools (one namespace with Entry), and returns the Fn to
// pass to Map and Apply. Call it in a package-level var declaration:
//
//	var square = procs.Func("square", func(ctx context.Context, x int64) (int64, error) { return x * x, nil })
//
// In and Out travel through the codec (any Go value; interface values of registered types).
func Func[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error)) *Fn[In, Out] {
	if name == "" || fn == nil {
		panic("procs: Func needs a name and a func")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("procs: Func registered twice: " + name)
	}
	registry[name] = &entry{call: func(ctx context.Context, b []byte) ([]byte, error) {
		var ins []In
		if err := codec.Unmarshal(b, &ins); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrArgs, err)
		}
		outs := make([]Out, len(ins))
		for i, in := range ins {
			out, err := fn(ctx, in)
			if err != nil {
				return nil, err
			}
			outs[i] = out
		}
		return codec.Marshal(outs)
	}}
	return &Fn[In, Out]{name: name, late: mainCalled.Load()}
}

// Name returns the name the function was registered under.
func (f *Fn[In, Out]) Name() string { return f.name }

// ErrWorkerDied is the error of a task whose worker process died running it (a SIGKILL, the
// OOM killer, a crash); the pool replaced the worker and goes on. Retries re-runs such tasks.
var ErrWorkerDied = errors.New("procs: pool worker died")

// ErrPoolClosed is returned by a Pool's methods after Close or Terminate.
var ErrPoolClosed = errors.New("procs: pool closed")

// A WorkerDiedError says which worker died running a task, and how.
type WorkerDiedError struct {
	Pid      int
	ExitCode int // minus the signal number for a signal, as ExitCode

	started bool // the worker had begun the task (its recorded current task)
}

func (e *WorkerDiedError) Error() string {
	return fmt.Sprintf("procs: pool worker pid %d died (exit code %d) running the task", e.Pid, e.ExitCode)
}

func (e *WorkerDiedError) Unwrap() error { return ErrWorkerDied }

// PoolConfig configures NewPool.
type PoolConfig struct {
	Workers int // processes; 0: CPUCount()
	Retries int // re-runs of a task whose worker died, on another worker; 0: none
}

// task and result are what travel between the pool and a worker, through its two pipes.
type task struct {
	ID   uint64
	Fn   string
	Args []byte // the codec's []In
}

type result struct {
	ID    uint64
	Out   []byte // the codec's []Out
	Err   string
	Panic bool
}

type workerArgs struct {
	Tasks   *ring.PipeOf[task]
	Results *ring.PipeOf[result]
	Current *ctypes.Value[uint64] // the ID of the task the worker runs: what its death loses
}

// poolWorker runs tasks from its pipe until the pool closes it.
var poolWorker = Entry("procs.poolWorker", func(ctx context.Context, a workerArgs) error {
	in, err := a.Tasks.Reader()
	if err != nil {
		return err
	}
	out, err := a.Results.Writer()
	if err != nil {
		return err
	}
	for {
		t, err := in.RecvContext(ctx)
		if errors.Is(err, io.EOF) {
			return out.Close()
		}
		if err != nil {
			return err
		}
		if err := a.Current.Store(t.ID); err != nil {
			return err
		}
		r := runTask(ctx, t)
		err = out.SendContext(ctx, r)
		if errors.Is(err, ring.ErrTooLarge) { // outputs too big for one record: say so instead
			err = out.SendContext(ctx, result{ID: t.ID, Err: fmt.Sprintf("procs: the outputs of a chunk encode beyond the result pipe's record (%v): use a smaller chunk", err)})
		}
		if err != nil {
			return err
		}
	}
})

// runTask runs one task, turning an error or a panic into its result.
func runTask(ctx context.Context, t task) (r result) {
	r.ID = t.ID
	defer func() {
		if p := recover(); p != nil {
			r.Out, r.Err, r.Panic = nil, fmt.Sprintf("panic: %v\n\n%s", p, debug.Stack()), true
		}
	}()
	e := lookup(t.Fn)
	if e == nil || e.call == nil {
		r.Err = fmt.Sprintf("%v: %q is not a registered Func in this binary", ErrUnknownEntry, t.Fn)
		return r
	}
	out, err := e.call(ctx, t.Args)
	if err != nil {
		r.Err = err.Error()
	}
	r.Out = out
	return r
}

// A Pool is a set of worker processes running registered Funcs: Python's multiprocessing.Pool.
// Tasks go to an idle worker through a pipe of its own, results come back through another; a
// worker that dies fails only the task it was running (ErrWorkerDied, or a re-run with
// Retries) and is replaced, so the pool never hangs and never breaks. It is safe for use by
// several goroutines at once.
type Pool struct {
	ctx    context.Context
	cfg    PoolConfig
	idle   chan *worker
	nextID atomic.Uint64
	mu     sync.Mutex
	all    map[*worker]struct{}
	closed bool
	wg     sync.WaitGroup
}

type worker struct {
	proc    *Process
	current *ctypes.Value[uint64]
	pipes   [3]interface{ Close() error }
	in      *ring.WriterOf[task]
	out     *ring.ReaderOf[result]
}

// NewPool starts cfg.Workers worker processes (CPUCount() if 0). ctx bounds their lives.
func NewPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if cfg.Workers == 0 {
		cfg.Workers = CPUCount()
	}
	if cfg.Workers < 0 || cfg.Retries < 0 {
		return nil, fmt.Errorf("procs: pool of %d workers with %d retries", cfg.Workers, cfg.Retries)
	}
	p := &Pool{ctx: ctx, cfg: cfg, idle: make(chan *worker, cfg.Workers), all: map[*worker]struct{}{}}
	for range cfg.Workers {
		w, err := p.startWorker()
		if err != nil {
			_ = p.Terminate()
			return nil, err
		}
		p.idle <- w
	}
	return p, nil
}

func (p *Pool) startWorker() (*worker, error) {
	tp, err := ring.NewPipeOf[task](ring.Capacity(1 << 20))
	if err != nil {
		return nil, err
	}
	rp, err := ring.NewPipeOf[result](ring.Capacity(1 << 20))
	if err != nil {
		_ = tp.Close()
		return nil, err
	}
	cur, err := ctypes.NewValue[uint64](0)
	if err != nil {
		_, _ = tp.Close(), rp.Close()
		return nil, err
	}
	w := &worker{current: cur, pipes: [3]interface{ Close() error }{tp, rp, cur}}
	if w.in, err = tp.Writer(); err == nil {
		w.out, err = rp.Reader()
	}
	if err == nil {
		w.proc, err = poolWorker.Start(p.ctx, workerArgs{Tasks: tp, Results: rp, Current: cur})
	}
	if err != nil {
		_, _, _ = tp.Close(), rp.Close(), cur.Close()
		return nil, err
	}
	p.mu.Lock()
	p.all[w] = struct{}{}
	p.mu.Unlock()
	return w, nil
}

// run sends one task to an idle worker and waits for its result, re-running it on another
// worker when the first died and Retries allows.
func (p *Pool) run(ctx context.Context, fn string, args []byte) ([]byte, error) {
	unstarted := 0
	for attempt := 0; ; attempt++ {
		w, err := p.take(ctx)
		if err != nil {
			return nil, err
		}
		out, err := p.runOn(ctx, w, task{ID: p.nextID.Add(1), Fn: fn, Args: args})
		var died *WorkerDiedError
		switch {
		case errors.As(err, &died) && !died.started && unstarted < 2*p.cfg.Workers+2:
			unstarted++
			attempt-- // the worker was dead before it took the task: not a retry
			continue
		case errors.As(err, &died) && attempt < p.cfg.Retries:
			continue
		}
		return out, err
	}
}

func (p *Pool) take(ctx context.Context) (*worker, error) {
	select {
	case w, ok := <-p.idle:
		if !ok {
			return nil, ErrPoolClosed
		}
		return w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runOn runs t on w. w goes back to the idle set after a result, or is replaced if it died.
func (p *Pool) runOn(ctx context.Context, w *worker, t task) ([]byte, error) {
	if err := w.in.SendContext(ctx, t); err != nil {
		p.replace(w)
		return nil, err
	}
	r, err := w.out.RecvContext(ctx)
	if err != nil {
		// The worker died (ErrPeerGone), or ctx ended with the task running: either way this
		// worker cannot be trusted with the next task.
		_ = w.proc.Kill()
		_ = w.proc.Join()
		code := w.proc.ExitCode()
		cur, _ := w.current.Load()
		p.replace(w)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &WorkerDiedError{Pid: w.proc.Pid(), ExitCode: code, started: cur == t.ID}
	}
	p.release(w)
	switch {
	case r.Panic:
		return nil, fmt.Errorf("%w: %s", ErrPanic, r.Err)
	case r.Err != "":
		return nil, &TaskError{Message: r.Err}
	}
	return r.Out, nil
}

// A TaskError is the error a task's function returned in its worker: its message.
type TaskError struct{ Message string }

func (e *TaskError) Error() string { return e.Message }

func (p *Pool) release(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.retire(w)
		return
	}
	p.idle <- w
}

// replace retires w and starts a worker in its place.
func (p *Pool) replace(w *worker) {
	p.mu.Lock()
	p.retire(w)
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return
	}
	nw, err := p.startWorker()
	if err != nil {
		return // the pool runs one worker short; the next replacement tries again
	}
	p.release(nw)
}

// retire ends a worker: its task pipe closes (the worker returns), and its pipes detach. The
// caller holds p.mu.
func (p *Pool) retire(w *worker) {
	delete(p.all, w)
	_ = w.in.Close()
	_ = w.out.Close()
	for _, c := range w.pipes {
		_ = c.Close()
	}
}

// Pids returns the pids of the pool's workers (a snapshot).
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for w := range p.all {
		out = append(out, w.proc.Pid())
	}
	return out
}

// Close stops taking tasks, lets the workers finish what they run, and waits for them to exit.
func (p *Pool) Close() error { return p.shut(false) }

// Terminate kills every worker at once; tasks in flight fail.
func (p *Pool) Terminate() error { return p.shut(true) }

func (p *Pool) shut(kill bool) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	p.closed = true
	var procs []*Process
	for w := range p.all {
		procs = append(procs, w.proc)
	}
	// Idle workers retire now; busy ones when their task ends (release).
	for {
		select {
		case w := <-p.idle:
			p.retire(w)
			continue
		default:
		}
		break
	}
	close(p.idle)
	p.mu.Unlock()
	var errs []error
	for _, pr := range procs {
		if kill {
			_ = pr.Kill()
		}
		if err := pr.Join(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Map runs fn on every input across the pool and returns the outputs in input order: Python's
// Pool.map. Inputs go in chunks (chunk: inputs per task; 0 picks about four chunks per
// worker, as Python does). The first failing task's error is returned (a TaskError, ErrPanic
// with the worker's stack, or a WorkerDiedError); the outputs of tasks that succeeded are still
// in the slice.
func Map[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], inputs []In, chunk int) ([]Out, error) {
	if fn.late {
		return nil, fmt.Errorf("%w: %q", ErrLateEntry, fn.name)
	}
	if chunk <= 0 {
		chunk = max(1, (len(inputs)+4*p.cfg.Workers-1)/(4*max(p.cfg.Workers, 1)))
	}
	outs := make([]Out, len(inputs))
	var mu sync.Mutex // guards next and first
	next := 0
	var first error
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	// claim encodes the next chunk, halving it until it fits a record; ok is false when the
	// inputs are used up or a chunk could not be encoded.
	claim := func() (lo, hi int, args []byte, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(inputs) || first != nil {
			return 0, 0, nil, false
		}
		lo, hi = next, min(next+chunk, len(inputs))
		args, err := codec.Marshal(inputs[lo:hi])
		for err == nil && len(args) > maxTaskBytes && hi-lo > 1 {
			hi = lo + (hi-lo)/2
			args, err = codec.Marshal(inputs[lo:hi])
		}
		if err != nil {
			first = fmt.Errorf("%w: %w", ErrEncode, codec.AtPath(err, fmt.Sprintf("inputs[%d:%d]", lo, hi)))
			return 0, 0, nil, false
		}
		next = hi
		return lo, hi, args, true
	}
	// As many senders as workers, each encoding its next chunk just before it sends it: no
	// goroutine per chunk, no encoded inputs held beyond those in flight.
	var wg sync.WaitGroup
	for range max(p.cfg.Workers, 1) {
		wg.Go(func() {
			for {
				lo, hi, args, ok := claim()
				if !ok {
					return
				}
				b, err := p.run(ctx, fn.name, args)
				var chunkOut []Out
				if err == nil {
					err = codec.Unmarshal(b, &chunkOut)
				}
				if err == nil && len(chunkOut) != hi-lo {
					err = fmt.Errorf("procs: %d outputs for %d inputs", len(chunkOut), hi-lo)
				}
				if err != nil {
					fail(err)
					return
				}
				copy(outs[lo:hi], chunkOut)
			}
		})
	}
	wg.Wait()
	return outs, first
}

// maxTaskBytes bounds an encoded chunk: a quarter of a worker's 1 MiB task pipe, half its
// longest record.
const maxTaskBytes = 256 << 10

// Apply runs fn on one input in a worker and returns its output: Python's Pool.apply.
func Apply[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], in In) (Out, error) {
	outs, err := Map(ctx, p, fn, []In{in}, 1)
	if err != nil || len(outs) == 0 {
		var zero Out
		return zero, err
	}
	return outs[0], nil
}
