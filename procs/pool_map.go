package procs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/internal/remote"
	"github.com/shmkit/shmkit/ring"
)

// A MapOption tunes Map, MapAsync, Imap, ImapUnordered and ForRange.
type MapOption func(*mapOptions)

type mapOptions struct{ chunk int }

// Chunk sets the number of inputs per task (Python's chunksize). The default, automatic,
// gives each worker about four chunks, as Python does: few enough that the per-task cost
// vanishes, enough that a slow chunk does not leave the other workers idle at the end.
// Chunk(1) sends each input on its own, for tasks long or uneven enough to want it.
func Chunk(n int) MapOption { return func(o *mapOptions) { o.chunk = n } }

func init() {
	remote.Chunk = func(opts any) int {
		var o mapOptions
		for _, opt := range opts.([]MapOption) {
			opt(&o)
		}
		return o.chunk
	}
}

func (o *mapOptions) chunkFor(n, workers int) int {
	if o.chunk > 0 {
		return o.chunk
	}
	per := 4 * max(workers, 1)
	return max(1, (n+per-1)/per)
}

// A Future is the result of MapAsync or ApplyAsync, ready later (Python's AsyncResult).
type Future[T any] struct {
	done chan struct{}
	val  T
	err  error
	ok   atomic.Bool
}

// NewFuture returns a Future and the function that settles it, for code that runs work of its
// own and gives its callers the Future a Pool's async calls give (the cluster module's MapAsync
// and ApplyAsync). Settling with an error drops the value; settling twice panics.
func NewFuture[T any]() (f *Future[T], settle func(T, error)) {
	f = &Future[T]{done: make(chan struct{})}
	return f, f.settle
}

func (f *Future[T]) settle(v T, err error) {
	if err != nil {
		var zero T
		v = zero
	}
	f.val, f.err = v, err
	f.ok.Store(err == nil)
	close(f.done)
}

// Get waits for the result and returns it, or the job's error; or ctx's error if ctx ends
// first (the job goes on: cancel the context given to MapAsync to stop it).
func (f *Future[T]) Get(ctx context.Context) (T, error) {
	if err := f.Wait(ctx); err != nil {
		var zero T
		return zero, err
	}
	return f.val, f.err
}

// Wait waits until the result is ready, or ctx ends (its error). It does not report the
// job's own error: Get does.
func (f *Future[T]) Wait(ctx context.Context) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ready reports whether the result is in.
func (f *Future[T]) Ready() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// Successful reports whether the result is in and the job succeeded (false while not ready,
// where Python raises).
func (f *Future[T]) Successful() bool { return f.Ready() && f.ok.Load() }

// Done returns a channel closed when the result is ready, for select.
func (f *Future[T]) Done() <-chan struct{} { return f.done }

// mapJob runs fn over ins in chunks, collecting outputs in outs.
type mapJob[In, Out any] struct {
	parent context.Context // the caller's: its end abandons the job
	ctx    context.Context // ends when the job does, for any reason
	cancel context.CancelFunc
	p      *Pool
	fn     *Fn[In, Out]
	ins    []In
	outs   []Out
	chunk  int
	next   int // under p.mu

	ended   atomic.Bool
	use     sync.RWMutex // held (read) while a slot encodes the job's inputs
	mu      sync.Mutex
	left    int // inputs whose outputs are not all in
	err     error
	done    chan struct{}
	onChunk func(lo, hi int, err error) // under mu, when a chunk is done: outputs all in, or failed
	ordered bool                        // a chunk's failure waits for the chunks before it (Imap)
	failure error                       // ordered: the failure of the lowest chunk that failed
	failLo  int
	unwatch func() bool // stops the watch on the job's context
}

func newMapJob[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], ins []In, opts []MapOption) (*mapJob[In, Out], error) {
	switch {
	case p == nil || fn == nil:
		return nil, fmt.Errorf("procs: a nil Pool or Fn")
	case fn.late:
		return nil, fmt.Errorf("%w: %q", ErrLateEntry, fn.name)
	}
	var o mapOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.chunk < 0 {
		return nil, fmt.Errorf("procs: chunk of %d inputs", o.chunk)
	}
	j := &mapJob[In, Out]{parent: ctx, p: p, fn: fn, ins: ins, outs: make([]Out, len(ins)),
		chunk: o.chunkFor(len(ins), p.cfg.Workers), left: len(ins), done: make(chan struct{})}
	j.ctx, j.cancel = context.WithCancel(ctx)
	return j, nil
}

// start queues the job, or ends it at once (no inputs, a closed pool, a context that ended).
func (j *mapJob[In, Out]) start(ctx context.Context) {
	if err := ctx.Err(); err != nil {
		j.finish(nil, err)
		return
	}
	if len(j.ins) == 0 {
		j.finish(nil, nil)
		return
	}
	j.mu.Lock()
	j.unwatch = context.AfterFunc(ctx, func() {
		j.finish(nil, ctx.Err())
		j.p.abandon(j)
	})
	j.mu.Unlock()
	if err := j.p.submit(j); err != nil {
		j.finish(nil, err)
	}
}

func (j *mapJob[In, Out]) over() bool { return j.ended.Load() }

func (j *mapJob[In, Out]) context() context.Context { return j.ctx }

func (j *mapJob[In, Out]) abandoned() bool { return j.parent.Err() != nil }

func (j *mapJob[In, Out]) take() (lo, hi int, ok bool) {
	if j.over() || j.next >= len(j.ins) {
		return 0, 0, false
	}
	lo, hi = j.next, min(j.next+j.chunk, len(j.ins))
	j.next = hi
	return lo, hi, true
}

// errJobOver: the job ended before this task was sent; its inputs are no longer read.
var errJobOver = errors.New("procs: job over")

// wait returns once the job is over and no slot reads its inputs any more: after it, the
// caller may close or reuse what the inputs hold.
func (j *mapJob[In, Out]) wait() {
	<-j.done
	j.use.Lock()
	j.use.Unlock() //nolint:staticcheck // an empty critical section: waiting out the readers
}

func (j *mapJob[In, Out]) put(s *sender, t *poolTask) error {
	j.use.RLock()
	defer j.use.RUnlock()
	if j.over() {
		return errJobOver
	}
	ins := j.ins[t.lo:t.hi]
	c := j.fn.in
	if c.flat {
		n := len(ins) * c.size
		if n > s.limit {
			return j.tooLarge(t, n, s.limit)
		}
		b, err := s.record(t, j.fn.key, n, false)
		if err != nil {
			return err
		}
		copy(b, raw(ins, c.size))
		return s.commit()
	}
	v := reflect.ValueOf(ins)
	s.enc.Share = nil
	n, err := s.enc.Size(v)
	if err != nil {
		// Shared objects in the inputs: encoded beside a table of their handles.
		return j.putShared(s, t, v)
	}
	if n > s.limit {
		return j.tooLarge(t, n, s.limit)
	}
	b, err := s.record(t, j.fn.key, n, false)
	if err != nil {
		return err
	}
	if err := c.put(&s.enc, b, ins); err != nil {
		clear(b) // the worker finds no inputs there and fails the task with ErrArgs
		_ = s.commit()
		return fmt.Errorf("%w: %w", ErrEncode, codec.AtPath(err, fmt.Sprintf("inputs[%d:%d]", t.lo, t.hi)))
	}
	return s.commit()
}

func (j *mapJob[In, Out]) putShared(s *sender, t *poolTask, v reflect.Value) error {
	var table taskHandles
	s.enc.Share = table.share
	body, err := s.enc.Append(s.scratch[:0], v)
	s.enc.Share = nil
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEncode, codec.AtPath(err, fmt.Sprintf("inputs[%d:%d]", t.lo, t.hi)))
	}
	s.scratch = body
	head, err := codec.Marshal(table.list)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEncode, err)
	}
	n := 4 + len(head) + len(body)
	if n > s.limit {
		return j.tooLarge(t, n, s.limit)
	}
	b, err := s.record(t, j.fn.key, n, true)
	if err != nil {
		return err
	}
	b[0], b[1], b[2], b[3] = byte(len(head)), byte(len(head)>>8), byte(len(head)>>16), byte(len(head)>>24)
	copy(b[4:], head)
	copy(b[4+len(head):], body)
	return s.commit()
}

func (j *mapJob[In, Out]) tooLarge(t *poolTask, n, limit int) error {
	if t.hi-t.lo > 1 {
		return errSplit
	}
	return fmt.Errorf("%w: input %d encodes in %d bytes, a worker's task pipe carries %d", ring.ErrTooLarge, t.lo, n, limit)
}

func (j *mapJob[In, Out]) deliver(t *poolTask, h resultHead, payload []byte) error {
	if h.start < 0 || h.count < 0 || h.start+h.count > t.hi-t.lo {
		return fmt.Errorf("%w: outputs %d+%d of a %d-input task", ring.ErrCorrupt, h.start, h.count, t.hi-t.lo)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.over() {
		return nil // the job ended (its context, say): the outputs have nowhere to go
	}
	lo := t.lo + h.start
	if err := j.fn.out.get(payload, j.outs[lo:lo+h.count]); err != nil {
		return fmt.Errorf("%w: the outputs of %q: %w", ErrArgs, j.fn.name, err)
	}
	return nil
}

// finish ends a task (t nil: the whole job) with err, or records a task whose outputs are
// all in.
func (j *mapJob[In, Out]) finish(t *poolTask, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.over() {
		return
	}
	// A chunk that failed ends the job at once, unless the job is ordered: then the chunks
	// before it go on, since their outputs come first (Python's imap yields them, then
	// raises), and the caller ends the job when it reaches the failure.
	if t != nil && (err == nil || j.ordered) {
		j.left -= t.hi - t.lo
		if err != nil && (j.failure == nil || t.lo < j.failLo) {
			j.failure, j.failLo = err, t.lo
		}
		if j.onChunk != nil {
			j.onChunk(t.lo, t.hi, err)
		}
		if j.left > 0 {
			return
		}
		err = j.failure
	}
	j.err = err
	j.ended.Store(true)
	if j.unwatch != nil {
		j.unwatch()
	}
	j.cancel()
	close(j.done)
}

// MapAsync starts fn over every input across the pool and returns at once: Python's
// Pool.map_async. The Future's value is the outputs in input order. ctx bounds the job: when
// it ends, no more of its chunks are handed out and the Future fails with ctx's error.
func MapAsync[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], inputs []In, opts ...MapOption) *Future[[]Out] {
	f, settle := NewFuture[[]Out]()
	j, err := newMapJob(ctx, p, fn, inputs, opts)
	if err != nil {
		settle(nil, err)
		return f
	}
	go func() {
		j.wait()
		settle(j.outs, j.err)
	}()
	j.start(ctx)
	return f
}

// Map runs fn on every input across the pool and returns the outputs in input order: Python's
// Pool.map. Inputs travel in chunks (see Chunk). The first failure ends it: a *TaskError for
// an error the function returned (Index says which input), ErrPanic with the worker's stack,
// a *WorkerDiedError, ErrEncode for an input that cannot travel, or ctx's error.
//
// Python's starmap is Map over a struct input:
//
//	type pair struct{ A, B float64 }
//	var pow = procs.Func("pow", func(ctx context.Context, p pair) (float64, error) { return math.Pow(p.A, p.B), nil })
//	out, err := procs.Map(ctx, pool, pow, []pair{{2, 10}, {3, 2}})
func Map[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], inputs []In, opts ...MapOption) ([]Out, error) {
	j, err := newMapJob(ctx, p, fn, inputs, opts)
	if err != nil {
		return nil, err
	}
	j.start(ctx)
	j.wait()
	if j.err != nil {
		return nil, j.err
	}
	return j.outs, nil
}

// Apply runs fn on one input in a worker and returns its output: Python's Pool.apply.
func Apply[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], in In) (Out, error) {
	outs, err := Map(ctx, p, fn, []In{in}, Chunk(1))
	if err != nil {
		var zero Out
		return zero, err
	}
	return outs[0], nil
}

// ApplyAsync starts fn on one input and returns at once: Python's Pool.apply_async.
func ApplyAsync[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], in In) *Future[Out] {
	return first(MapAsync(ctx, p, fn, []In{in}, Chunk(1)))
}

// first is the Future of the only element of inner's value: ApplyAsync's, from MapAsync's.
func first[T any](inner *Future[[]T]) *Future[T] {
	f, settle := NewFuture[T]()
	go func() {
		<-inner.done
		var v T
		if inner.err == nil {
			v = inner.val[0]
		}
		settle(v, inner.err)
	}()
	return f
}

// Imap runs fn over the inputs across the pool and yields the outputs in input order, each as
// soon as it and every output before it are in (Python's Pool.imap): the first comes while
// later chunks still run. A failure is yielded as the last pair, in its turn: the outputs of
// the chunks before the failing one come first, even if it failed before they were in (the
// chunks after it are stopped then). Stopping the loop early stops the job. Chunking is
// automatic (see Chunk); use Chunk(1) to see each output the moment it is ready.
func Imap[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], inputs []In, opts ...MapOption) iter.Seq2[Out, error] {
	return imap(ctx, p, fn, inputs, opts, true)
}

// ImapUnordered is Imap that yields outputs in the order they arrive (Python's
// Pool.imap_unordered): every output exactly once, a chunk at a time.
func ImapUnordered[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], inputs []In, opts ...MapOption) iter.Seq2[Out, error] {
	return imap(ctx, p, fn, inputs, opts, false)
}

func imap[In, Out any](ctx context.Context, p *Pool, fn *Fn[In, Out], inputs []In, opts []MapOption, ordered bool) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) {
		var zero Out
		jctx, cancel := context.WithCancel(ctx)
		defer cancel() // a loop that stops early stops the job
		j, err := newMapJob(jctx, p, fn, inputs, opts)
		if err != nil {
			yield(zero, err)
			return
		}
		type span struct {
			lo, hi int
			err    error // the chunk failed: ordered, its turn yields this and ends the loop
		}
		var ready []span        // unordered: chunks whose outputs are in, in arrival order (under j.mu)
		endAt := map[int]span{} // ordered: chunk start -> the chunk, done (under j.mu)
		signal := make(chan struct{}, 1)
		j.ordered = ordered
		j.onChunk = func(lo, hi int, err error) {
			if ordered {
				endAt[lo] = span{lo, hi, err}
			} else if err == nil {
				ready = append(ready, span{lo, hi, nil})
			}
			select {
			case signal <- struct{}{}:
			default:
			}
		}
		j.start(jctx)
		defer func() { cancel(); j.wait() }() // a loop that stops early ends the job first
		next := 0                             // ordered: the next index to yield
		for next < len(inputs) || !ordered {
			j.mu.Lock()
			var todo []span
			if ordered {
				for c, ok := endAt[next]; ok; c, ok = endAt[next] {
					delete(endAt, next)
					todo = append(todo, c)
					next = c.hi
					if c.err != nil {
						break
					}
				}
			} else {
				todo, ready = ready, nil
			}
			j.mu.Unlock()
			for _, s := range todo {
				if s.err != nil {
					yield(zero, s.err)
					return
				}
				for i := s.lo; i < s.hi; i++ {
					if !yield(j.outs[i], nil) {
						return
					}
				}
			}
			if len(todo) > 0 {
				continue
			}
			select {
			case <-signal:
			case <-j.done:
				j.mu.Lock()
				_, due := endAt[next] // ordered: what is in beyond a chunk that never came is not
				more := len(ready) > 0 || due
				j.mu.Unlock()
				if more {
					continue
				}
				if j.err != nil {
					yield(zero, j.err)
				}
				return
			}
		}
	}
}

// A Span is the share of an index range one ForRange task covers, [Lo, Hi), with the call's
// argument.
type Span[A any] struct {
	Lo, Hi int
	Arg    A
}

// ForRange splits the index range [0, n) into spans and runs fn on each across the pool: the
// helper for numeric batches. The argument travels with every span; shared objects in it (a
// ctypes.RawArray, say) arrive attached, so each worker works in place on the same memory and
// nothing is copied but the span's bounds. A worker maps each segment once and reuses the
// mapping for later spans.
//
//	type scaleArgs struct{ Data *ctypes.RawArray[float64]; By float64 }
//	var scale = procs.Func("scale", func(ctx context.Context, s procs.Span[scaleArgs]) (struct{}, error) {
//		xs := s.Arg.Data.Slice()
//		for i := s.Lo; i < s.Hi; i++ {
//			xs[i] *= s.Arg.By
//		}
//		return struct{}{}, nil
//	})
//	err := procs.ForRange(ctx, pool, scale, n, scaleArgs{Data: arr, By: 2})
//
// By default there is one span per worker; Chunk(k) makes spans of k indices (for work whose
// cost varies along the range). Anonymous
// segments travel in a task on Linux only (elsewhere name them, or pass them in the pool's
// Init).
func ForRange[A any](ctx context.Context, p *Pool, fn *Fn[Span[A], struct{}], n int, arg A, opts ...MapOption) error {
	if n < 0 {
		return fmt.Errorf("procs: ForRange over %d indices", n)
	}
	var o mapOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.chunk < 0 {
		return fmt.Errorf("procs: chunk of %d indices", o.chunk)
	}
	workers := 1
	if p != nil {
		workers = p.cfg.Workers
	}
	// One span per worker: a numeric kernel costs the same per index, and each extra span
	// costs its worker a hand-off and a move of its slice of the data between caches (on a
	// 2-vCPU AMD EPYC guest, 8 spans ran 6% slower than 2). Chunk(k) for uneven work.
	step := max(1, (n+workers-1)/workers)
	if o.chunk > 0 {
		step = o.chunk
	}
	spans := make([]Span[A], 0, (n+step-1)/step)
	for lo := 0; lo < n; lo += step {
		spans = append(spans, Span[A]{Lo: lo, Hi: min(lo+step, n), Arg: arg})
	}
	_, err := Map(ctx, p, fn, spans, Chunk(1))
	if te, ok := err.(*TaskError); ok && te.Index < len(spans) {
		te.Index = spans[te.Index].Lo // an index of the range, not of the span list
	}
	return err
}
