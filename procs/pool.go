package procs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/ring"
)

// ErrWorkerDied is the error of a task whose worker process died running it (a SIGKILL, the
// OOM killer, a crash); the pool replaced the worker and goes on. Retries re-runs such tasks.
var ErrWorkerDied = errors.New("procs: pool worker died")

// ErrPoolClosed is returned for work given to a Pool after Close or Terminate, and for the
// work Terminate cut short.
var ErrPoolClosed = errors.New("procs: pool closed")

// ErrPoolBroken: no worker could be started (or restarted) and none is left to run the
// pool's tasks; the error says why (an Init that fails, say).
var ErrPoolBroken = errors.New("procs: pool has no workers left")

// A WorkerDiedError says which worker died running a task, and how.
type WorkerDiedError struct {
	Pid      int
	ExitCode int // minus the signal number for a signal, as ExitCode
}

func (e *WorkerDiedError) Error() string {
	return fmt.Sprintf("procs: pool worker pid %d died (exit code %d) running the task", e.Pid, e.ExitCode)
}

func (e *WorkerDiedError) Unwrap() error { return ErrWorkerDied }

// A TaskError is the error a task's function returned in its worker: its message, and the
// index (within the inputs of the Map, Imap or ForRange call) of the input it failed on.
type TaskError struct {
	Index   int
	Message string
}

func (e *TaskError) Error() string { return e.Message }

// PoolConfig configures NewPool. The zero value is a pool of CPUCount() workers.
type PoolConfig struct {
	// Workers is the number of worker processes; 0 means CPUCount().
	Workers int
	// Init, made with InitWith, runs once in each worker before its first task (Python's
	// initializer and initargs): the place to attach shared arrays a worker keeps in package
	// variables. A worker whose Init fails does not start: NewPool returns the error.
	Init Init
	// MaxTasksPerWorker replaces a worker after it has run this many tasks (chunks), as
	// Python's maxtasksperchild; 0 means never.
	MaxTasksPerWorker int
	// Retries re-runs a task whose worker died, on another worker, up to this many times
	// (default 0: tasks need not be idempotent). An error or a panic in the task is never
	// retried.
	Retries int
	// Spares is the number of warm spare processes kept ready to replace a worker that dies
	// or is recycled, so a replacement is a hand-off, not an exec. 0 means 1; a negative value
	// keeps none. See WarmSpares for the trade-off.
	Spares int
}

// An Init is a registered entry and its argument, run once in each pool worker before its
// first task. Make one with InitWith.
type Init struct {
	name string
	arg  reflect.Value
	late bool
}

// InitWith returns the Init that runs e with arg in each worker (Python's Pool(initializer=f,
// initargs=(arg,))). The argument travels as an entry's argument does: shared objects in it
// (a RawArray, a Map, a Mutex) arrive attached, and the entry can keep them in package
// variables for the worker's tasks.
func InitWith[A any](e *EntryPoint[A], arg A) Init {
	return Init{name: e.name, arg: reflect.ValueOf(&arg).Elem(), late: e.late}
}

// A Pool is a set of worker processes running registered Funcs: Python's multiprocessing.Pool.
//
// Each worker has two pipes of its own: tasks go in through one, results come back through the
// other, and a word in shared memory records the task it is running. A worker that dies fails
// only that task (ErrWorkerDied, or a re-run with Retries); the tasks queued behind it run on
// another worker; a replacement takes its place. The pool never hangs and never breaks. It is
// safe for use by several goroutines at once: their jobs share the workers, chunk by chunk.
type Pool struct {
	ctx     context.Context
	cancel  context.CancelFunc
	cfg     PoolConfig
	spares  *spareSet
	nextID  atomic.Uint64
	stopCtx func() bool

	mu      sync.Mutex
	cond    *sync.Cond
	retry   []*poolTask // tasks to run again (their worker died), before new chunks
	jobs    []poolJob   // jobs with chunks not yet handed out, served in turn
	state   poolState
	live    int // slots still running
	workers map[*worker]struct{}
	broken  error
	done    chan struct{} // closed when the last slot has ended
}

type poolState int

const (
	poolRunning poolState = iota
	poolClosing
	poolTerminated
)

// A poolJob is a Map, Imap or Apply call in progress: the chunks it hands out and the
// outputs it takes back.
type poolJob interface {
	take() (lo, hi int, ok bool) // the next chunk; under the pool's mu
	put(s *sender, t *poolTask) error
	deliver(t *poolTask, h resultHead, payload []byte) error
	finish(t *poolTask, err error) // t is done: outputs all in, or failed with err
	over() bool
	context() context.Context // ends when the job does
	abandoned() bool          // the caller's context ended
}

type poolTask struct {
	id     uint64
	job    poolJob
	lo, hi int
	deaths int
	bytes  int // its record's size, once sent
}

type worker struct {
	life    context.Context // ends with the process, the pool, or an abandoned head task
	end     context.CancelFunc
	head    atomic.Pointer[poolTask] // the task whose result the slot waits for
	proc    *Process
	current *ctypes.Value[uint64]
	tasks   *ring.Pipe
	results *ring.Pipe
	in      *ring.Writer
	out     *ring.Reader
}

// NewPool starts cfg.Workers worker processes and returns once each is ready (its Init has
// run). ctx bounds the pool: when it ends, the workers are stopped and unfinished work fails
// with ctx's error.
func NewPool(ctx context.Context, cfg PoolConfig) (*Pool, error) {
	if cfg.Workers == 0 {
		cfg.Workers = CPUCount()
	}
	switch {
	case cfg.Workers < 0 || cfg.Retries < 0 || cfg.MaxTasksPerWorker < 0:
		return nil, fmt.Errorf("procs: a pool of %d workers, %d retries, %d tasks per worker", cfg.Workers, cfg.Retries, cfg.MaxTasksPerWorker)
	case cfg.Init.late:
		return nil, fmt.Errorf("%w: the pool's Init %q", ErrLateEntry, cfg.Init.name)
	case !mainCalled.Load():
		return nil, ErrNoMain
	}
	if cfg.Spares == 0 {
		cfg.Spares = 1
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &Pool{ctx: pctx, cancel: cancel, cfg: cfg, workers: map[*worker]struct{}{}, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	if cfg.Spares > 0 {
		p.spares = newSpareSet(pctx, cfg.Spares)
	}
	// Every worker is launched and waited for at once: the execs overlap.
	ws := make([]*worker, cfg.Workers)
	errs := make([]error, cfg.Workers)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Go(func() {
			// A worker is a warm spare when WarmSpares keeps some ready; else the child execs
			// first, as a spare, while its pipes are made, and is handed its spec after.
			// Where spares are not supported, launch execs it with the spec.
			global := globalSpares.Load()
			sp := global.take()
			if sp != nil {
				global.refill()
			} else {
				sp, _ = execSpare(pctx)
			}
			if ws[i], errs[i] = p.launch(sp); errs[i] == nil {
				errs[i] = p.awaitReady(ws[i])
			}
		})
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		for _, w := range ws {
			if w != nil {
				p.discard(w)
			}
		}
		p.spares.close()
		cancel()
		return nil, err
	}
	p.live = len(ws)
	p.stopCtx = context.AfterFunc(pctx, func() {
		p.mu.Lock()
		p.failAllLocked(pctx.Err())
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	for _, w := range ws {
		go p.runSlot(w)
	}
	if p.spares != nil {
		p.spares.fillAfter(firstFillDelay)
	}
	return p, nil
}

// launch makes a worker's pipes and starts its process: in sp if not nil, else in a warm
// spare if one is ready, else by exec.
func (p *Pool) launch(sp *spare) (*worker, error) {
	tasks, err := ring.NewPipe(ring.Capacity(1 << 20))
	if err != nil {
		if sp != nil {
			sp.discard()
		}
		return nil, err
	}
	results, err := ring.NewPipe(ring.Capacity(1 << 20))
	if err != nil {
		_ = tasks.Close()
		if sp != nil {
			sp.discard()
		}
		return nil, err
	}
	cur, err := ctypes.NewValue[uint64](0)
	if err != nil {
		_, _ = tasks.Close(), results.Close()
		if sp != nil {
			sp.discard()
		}
		return nil, err
	}
	w := &worker{current: cur, tasks: tasks, results: results}
	if w.in, err = tasks.Writer(); err == nil {
		w.out, err = results.Reader()
	}
	if err == nil {
		args := []reflect.Value{reflect.ValueOf(workerArgs{Tasks: tasks, Results: results, Current: cur, Init: p.cfg.Init.name})}
		if p.cfg.Init.name != "" {
			args = append(args, p.cfg.Init.arg)
		}
		if sp != nil {
			w.proc, err = startIn(p.ctx, sp, poolWorkerEntry, args)
		} else {
			w.proc, err = p.spares.start(p.ctx, poolWorkerEntry, args)
		}
	} else if sp != nil {
		sp.discard()
	}
	if err != nil {
		p.closePipes(w)
		return nil, err
	}
	p.watch(w)
	p.mu.Lock()
	p.workers[w] = struct{}{}
	p.mu.Unlock()
	return w, nil
}

// awaitReady waits for the worker's first record: ready, or its Init's failure.
func (p *Pool) awaitReady(w *worker) error {
	rec, err := w.out.NextContext(w.life)
	if err != nil {
		_ = w.proc.JoinContext(p.ctx)
		if errors.Is(err, ring.ErrPeerGone) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("procs: pool worker pid %d exited (code %d) before it was ready: %w", w.proc.Pid(), w.proc.ExitCode(), w.proc.WaitContext(p.ctx))
		}
		return err
	}
	h, payload, err := parseResult(rec)
	if err == nil && h.status == resultInitFailed {
		err = fmt.Errorf("procs: the pool's Init %q failed in worker pid %d: %s", p.cfg.Init.name, w.proc.Pid(), payload)
	} else if err == nil && h.status != resultReady {
		err = fmt.Errorf("%w: a pool worker's first record has status %d", ring.ErrCorrupt, h.status)
	}
	_ = w.out.Release()
	return err
}

// discard kills a worker and frees its pipes.
func (p *Pool) discard(w *worker) {
	_ = w.proc.Kill()
	_ = w.proc.Join()
	p.retire(w)
}

func (p *Pool) retire(w *worker) {
	p.mu.Lock()
	delete(p.workers, w)
	p.mu.Unlock()
	p.closePipes(w)
}

func (p *Pool) closePipes(w *worker) {
	p.mu.Lock()
	end := w.end
	p.mu.Unlock()
	if end != nil {
		end()
	}
	if w.in != nil {
		_ = w.in.Close()
	}
	if w.out != nil {
		_ = w.out.Close()
	}
	_, _, _ = w.tasks.Close(), w.results.Close(), w.current.Close()
}

// runSlot drives one worker position for the pool's life: it hands the worker tasks, takes
// its results, and replaces it when it dies or has run MaxTasksPerWorker tasks.
func (p *Pool) runSlot(w *worker) {
	for w != nil {
		w = p.serve(w)
	}
	p.mu.Lock()
	p.live--
	last := p.live == 0
	if last && p.state == poolRunning && p.broken != nil {
		p.failAllLocked(p.broken)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	if last {
		p.spares.close()
		p.stopCtx()
		p.cancel()
		close(p.done)
	}
}

// firstFillDelay is how long a new pool waits before it starts its warm spare: the work given
// to a pool just made should have the cores first.
const firstFillDelay = 250 * time.Millisecond

// prefetch is how many tasks a worker may have queued when tasks are short: it keeps the
// worker busy while its last result travels back. Long tasks get one at a time, so a slow
// task never holds back work another worker could run.
const (
	prefetch  = 8
	shortTask = 50 * time.Microsecond
)

// serve runs w until it must go: it returns w's replacement, or nil when the slot ends.
func (p *Pool) serve(w *worker) *worker {
	var inflight []*poolTask
	// A task record is at most a quarter of the pipe, and the records in flight at most a
	// quarter too: with the quarter the worker may have read but not yet given back, a send
	// never waits for space while the worker waits for this goroutine to take a result.
	budget := w.tasks.Capacity() / 4
	s := &sender{w: w.in, limit: budget - taskHeader, budget: budget, ctx: p.ctx}
	sent, window := 0, 2
	recycle := false
	last := time.Now()
	var held *poolTask // a task that did not fit beside those in flight
	// gone takes the pipe's error only to say why: the worker is gone or out of step, and
	// died reports that to the tasks.
	gone := func(error) *worker {
		if held != nil {
			inflight = append(inflight, held)
		}
		return p.died(w, inflight)
	}
	for {
		for !recycle && len(inflight) < window {
			t := held
			held = nil
			if t == nil {
				t = p.next(len(inflight) == 0, w)
			}
			if t == nil {
				break
			}
			s.inflight = len(inflight)
			if err := p.send(s, t); err != nil {
				if errors.Is(err, errTaskFailed) {
					continue
				}
				if errors.Is(err, errPipeFull) {
					held = t
					break
				}
				inflight = append(inflight, t)
				return gone(err)
			}
			s.pending += t.bytes
			inflight = append(inflight, t)
			sent++
			recycle = p.cfg.MaxTasksPerWorker > 0 && sent >= p.cfg.MaxTasksPerWorker
		}
		if len(inflight) == 0 && held != nil {
			p.requeue(held) // recycling: this worker takes no more tasks
			held = nil
		}
		if len(inflight) == 0 {
			if recycle {
				return p.recycle(w)
			}
			if w.proc.ExitCode() != NotExited && p.running() {
				return gone(nil) // it died idle: replace it now, as Python's pool does
			}
			p.stop(w) // closing, and nothing left to run
			return nil
		}
		// Wait for the running task's result while its job lasts. A job its caller abandoned
		// (a context that ended) takes its worker with it: the worker is killed and replaced
		// (from a warm spare), so the pool is not held by work nobody waits for.
		// w.life ends when the worker's process exits (so its death is seen at once, not at
		// the ring's next liveness check), when the pool's context ends, or when the job of
		// the task at its head is abandoned (abandon).
		w.head.Store(inflight[0])
		rec, err := w.out.NextContext(w.life)
		if err != nil && w.proc.Alive() && p.ctx.Err() == nil && !inflight[0].job.abandoned() {
			p.watch(w) // a kick meant for the task before this one: wait on
			continue
		}
		if err != nil {
			return gone(err)
		}
		h, payload, err := parseResult(rec)
		t := inflight[0]
		if err == nil && h.id != t.id {
			err = fmt.Errorf("%w: a result for task %d where task %d was due", ring.ErrCorrupt, h.id, t.id)
		}
		if err != nil {
			_ = w.out.Release()
			return gone(err)
		}
		switch h.status {
		case resultOK:
			err = t.job.deliver(t, h, payload)
		case resultError:
			err = &TaskError{Index: t.lo + h.start, Message: string(payload)}
		case resultPanic:
			err = fmt.Errorf("%w: input %d: %s", ErrPanic, t.lo+h.start, payload)
		case resultArgs:
			err = fmt.Errorf("%w: %s", ErrArgs, payload)
		case resultUnknown:
			err = fmt.Errorf("%w: %s", ErrUnknownEntry, payload)
		default:
			err = fmt.Errorf("%w: a result with status %d", ring.ErrCorrupt, h.status)
		}
		_ = w.out.Release()
		if h.last || err != nil {
			if !h.last { // a failure sent mid-task: the stream is out of step
				t.job.finish(t, err)
				inflight = inflight[1:]
				return gone(err)
			}
			t.job.finish(t, err)
			s.pending -= t.bytes
			inflight = inflight[1:]
			now := time.Now()
			if now.Sub(last) < shortTask {
				window = prefetch
			} else {
				window = 1
			}
			last = now
		}
	}
}

// errTaskFailed: send failed the task itself (its inputs could not be encoded), not the pipe.
var errTaskFailed = errors.New("procs: task failed before it was sent")

// send puts t into the worker's task pipe. A chunk too large for one record is split, its
// second half going back to the front of the queue.
func (p *Pool) send(s *sender, t *poolTask) error {
	for {
		err := t.job.put(s, t)
		if errors.Is(err, errSplit) && t.hi-t.lo > 1 {
			mid := t.lo + (t.hi-t.lo)/2
			rest := &poolTask{id: p.nextID.Add(1), job: t.job, lo: mid, hi: t.hi}
			t.hi = mid
			p.requeue(rest)
			continue
		}
		var pe *pipeError
		if err != nil && !errors.As(err, &pe) && !errors.Is(err, errPipeFull) {
			t.job.finish(t, err)
			return errTaskFailed
		}
		return err
	}
}

// next returns the next task to run: a re-run first, then the next chunk of each job in turn.
// With block, it waits for one; it returns nil when the pool is closing and nothing is left,
// when it was terminated, when w's process ended (while it waited: watch wakes it), or
// (without block) when there is nothing to run now.
func (p *Pool) next(block bool, w *worker) *poolTask {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.state == poolTerminated || p.ctx.Err() != nil || block && w.proc.ExitCode() != NotExited {
			return nil
		}
		for len(p.retry) > 0 {
			t := p.retry[0]
			p.retry = p.retry[1:]
			if !t.job.over() {
				return t
			}
		}
		for len(p.jobs) > 0 {
			j := p.jobs[0]
			lo, hi, ok := j.take()
			if !ok {
				p.jobs = p.jobs[1:]
				continue
			}
			if len(p.jobs) > 1 { // round robin between jobs
				p.jobs = append(p.jobs[1:], j)
			}
			return &poolTask{id: p.nextID.Add(1), job: j, lo: lo, hi: hi}
		}
		if !block || p.state != poolRunning {
			return nil
		}
		p.cond.Wait()
	}
}

// requeue puts tasks back at the front of the queue; once the pool can run nothing more
// (Terminate, its context), it fails them instead, under the same lock Terminate fails the
// queue under, so none is left behind.
func (p *Pool) requeue(ts ...*poolTask) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.endErrLocked(); err != nil {
		for _, t := range ts {
			t.job.finish(t, err)
		}
		return
	}
	p.retry = append(ts, p.retry...)
	p.cond.Broadcast()
}

// watch gives w a new life context, ended by its process's exit, the pool's context, or
// abandon. Only w's slot calls it (and launch, before the slot exists).
func (p *Pool) watch(w *worker) {
	life, end := context.WithCancel(p.ctx)
	p.mu.Lock()
	w.life, w.end = life, end
	p.mu.Unlock()
	go func() {
		select {
		case <-w.proc.Done():
			end()
			p.mu.Lock()
			p.cond.Broadcast() // an idle slot waiting for work wakes to replace its worker
			p.mu.Unlock()
		case <-life.Done():
		}
	}()
}

// abandon interrupts the slots waiting for a result of job j, whose caller gave up: each
// such worker is killed and replaced.
func (p *Pool) abandon(j poolJob) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.workers {
		if t := w.head.Load(); t != nil && t.job == j && w.end != nil {
			w.end()
		}
	}
}

// submit queues a job's chunks.
func (p *Pool) submit(j poolJob) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.state != poolRunning:
		return ErrPoolClosed
	case p.ctx.Err() != nil:
		return p.ctx.Err()
	case p.live == 0 && p.broken != nil:
		return p.broken
	}
	p.jobs = append(p.jobs, j)
	p.cond.Broadcast()
	return nil
}

// died handles a worker that is gone (or cannot be trusted): the task it was running fails
// with a WorkerDiedError or runs again, the ones queued behind it run elsewhere, and a
// replacement takes its place. What went wrong with the pipe does not matter to the tasks:
// the death does.
func (p *Pool) died(w *worker, inflight []*poolTask) *worker {
	_ = w.proc.Kill()
	_ = w.proc.Join()
	running, _ := w.current.Load()
	died := &WorkerDiedError{Pid: w.proc.Pid(), ExitCode: w.proc.ExitCode()}
	p.retire(w)
	again := inflight
	if len(inflight) > 0 && inflight[0].id == running { // it was running: this death is its
		t := inflight[0]
		if t.deaths++; t.deaths > p.cfg.Retries {
			t.job.finish(t, died)
			again = inflight[1:]
		}
	}
	if len(again) > 0 {
		p.requeue(again...) // those that never started, and a started one with retries left
	}
	if p.endErr() != nil {
		return nil
	}
	return p.replacement()
}

// running reports a pool that takes work: not closing, terminated or ended.
func (p *Pool) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == poolRunning && p.ctx.Err() == nil
}

// endErr is why the pool's tasks can no longer run: Terminate or the pool's context.
func (p *Pool) endErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endErrLocked()
}

func (p *Pool) endErrLocked() error {
	if p.state == poolTerminated {
		return ErrPoolClosed
	}
	return p.ctx.Err()
}

// replacement starts a worker in place of one that went; after three failed starts in a row
// the slot gives up, and the pool runs one worker short (or, if it was the last, is broken).
// A new worker killed (SIGKILL, or Kill on Windows) before it was ready is not a failed
// start: the program can start, something killed it (the OOM killer, a user, a chaos test),
// and the slot starts another, after a pause that doubles with each such death in a row.
func (p *Pool) replacement() *worker {
	var err error
	pause := time.Millisecond
	for failed := 0; failed < 3; {
		killed := false
		var w *worker
		if w, err = p.launch(nil); err == nil {
			if err = p.awaitReady(w); err == nil {
				return w
			}
			killed = w.proc.ExitCode() == -9 // before discard, which kills a worker still running
			p.discard(w)
		}
		if p.endErr() != nil {
			return nil
		}
		if !killed {
			failed++
			continue
		}
		select {
		case <-p.ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
	p.mu.Lock()
	p.broken = fmt.Errorf("%w: %w", ErrPoolBroken, err)
	p.mu.Unlock()
	return nil
}

// recycle replaces a worker that has run MaxTasksPerWorker tasks: the replacement starts
// while the old one finishes and exits.
func (p *Pool) recycle(w *worker) *worker {
	nw, err := p.launch(nil)
	p.stop(w)
	if err == nil {
		if err = p.awaitReady(nw); err == nil {
			return nw
		}
		p.discard(nw)
	}
	if p.endErr() != nil {
		return nil
	}
	return p.replacement()
}

// stop ends an idle worker: its task pipe closes, it returns, and it is reaped.
func (p *Pool) stop(w *worker) {
	_ = w.in.Close()
	for {
		if _, err := w.out.NextContext(p.ctx); err != nil {
			break // io.EOF: it closed its end and returns
		}
	}
	if w.proc.JoinContext(p.ctx) != nil {
		_ = w.proc.Kill()
		_ = w.proc.Join()
	}
	p.retire(w)
}

// failAllLocked fails every queued task and job with err. The caller holds p.mu.
func (p *Pool) failAllLocked(err error) {
	for _, t := range p.retry {
		t.job.finish(t, err)
	}
	p.retry = nil
	for _, j := range p.jobs {
		j.finish(nil, err)
	}
	p.jobs = nil
}

// Workers returns the number of worker processes the pool runs.
func (p *Pool) Workers() int { return p.cfg.Workers }

// String shows what Python's repr of a Pool shows, and the jobs in flight:
// procs.Pool(state=RUN workers=4 of 4 jobs=1).
func (p *Pool) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	state := "RUN"
	switch {
	case p.state == poolTerminated:
		state = "TERMINATE"
	case p.state == poolClosing:
		state = "CLOSE"
	case p.live == 0 && p.broken != nil:
		state = "BROKEN"
	}
	return fmt.Sprintf("procs.Pool(state=%s workers=%d of %d jobs=%d)", state, p.live, p.cfg.Workers, len(p.jobs))
}

// Pids returns the pids of the pool's workers (a snapshot).
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for w := range p.workers {
		out = append(out, w.proc.Pid())
	}
	return out
}

// Close is Python's close followed by join: the pool takes no more work, the work already
// given to it runs to the end, and Close returns once every worker has exited. Use Terminate
// to stop at once.
func (p *Pool) Close() error {
	if err := p.shut(poolClosing); err != nil {
		return err
	}
	<-p.done
	return nil
}

// Terminate kills every worker at once, as Python's terminate; work in flight or queued fails
// with ErrPoolClosed. It returns once the workers are reaped.
func (p *Pool) Terminate() error {
	if err := p.shut(poolTerminated); err != nil {
		return err
	}
	p.mu.Lock()
	for w := range p.workers {
		_ = w.proc.Kill()
	}
	p.mu.Unlock()
	<-p.done
	return nil
}

// Join waits until the pool has shut down (after Close or Terminate, perhaps called by
// another goroutine) and every worker has exited, or until ctx ends.
func (p *Pool) Join(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pool) shut(to poolState) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == poolTerminated || p.state == to {
		return ErrPoolClosed
	}
	p.state = to
	if to == poolTerminated {
		p.failAllLocked(ErrPoolClosed)
	}
	p.cond.Broadcast()
	return nil
}

// A pipeError is a failure of the worker's pipe (not of the task): the worker is gone.
type pipeError struct{ err error }

func (e *pipeError) Error() string { return e.err.Error() }
func (e *pipeError) Unwrap() error { return e.err }

// errSplit: a chunk encodes beyond one record; send splits it.
var errSplit = errors.New("procs: chunk too large for one record")

// errPipeFull: the task would not fit beside those in flight; it waits for a result first.
var errPipeFull = errors.New("procs: task pipe budget spent")

// sender writes task records into a worker's pipe.
type sender struct {
	w        *ring.Writer
	limit    int // the longest task payload
	budget   int // the most bytes of records in flight
	pending  int // bytes of records in flight
	inflight int // records in flight
	ctx      context.Context
	enc      codec.Encoder
	scratch  []byte
}

// record reserves a task record with n bytes of payload and fills its header.
// With shared, the payload starts with a table of the handles of shared objects in the
// inputs (a uint32 length, then the table).
func (s *sender) record(t *poolTask, key uint64, n int, shared bool) ([]byte, error) {
	size := taskHeader + n + 64 // with its record header and any line padding
	if s.inflight > 0 && s.pending+size > s.budget {
		return nil, errPipeFull
	}
	t.bytes = size
	b, err := s.w.ReserveContext(s.ctx, taskHeader+n)
	if err != nil {
		return nil, &pipeError{err}
	}
	putTaskHeader(b, t.id, key, t.hi-t.lo, shared)
	return b[taskHeader:], nil
}

func (s *sender) commit() error {
	if err := s.w.Commit(); err != nil {
		return &pipeError{err}
	}
	return nil
}
