package cluster

import (
	"context"
	"fmt"
	"iter"

	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/internal/remote"
	"github.com/shmkit/shmkit/procs"
)

// autoChunks is how many tasks a call's inputs make when the call does not say (procs.Chunk)
// and no worker host has said how many workers it has (Pool.Workers): enough to spread over
// several hosts and to balance a slow task. Once the workers are known, a call makes four
// tasks per worker, as procs does.
const autoChunks = 64

// chunkFor is the inputs a task of a call over n inputs carries.
func (p *Pool) chunkFor(n int, opts []procs.MapOption) int {
	if c := remote.Chunk(opts); c > 0 {
		return c
	}
	tasks := autoChunks
	if w := p.Workers(); w > 0 {
		tasks = 4 * w
	}
	return max(1, (n+tasks-1)/tasks)
}

// headroom is what a task's or result's headers may take of the server's maximum payload.
const headroom = 4096

// A call is the tasks of one Map, Imap or Apply, and where their outcomes arrive.
type call[In, Out any] struct {
	p     *Pool
	tasks []*task
	done  chan outcome
}

// newCall splits inputs into tasks, encodes and publishes them.
func newCall[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], inputs []In, opts []procs.MapOption) (*call[In, Out], error) {
	if p == nil || fn == nil {
		return nil, fmt.Errorf("cluster: a nil Pool or Fn")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	chunk := p.chunkFor(len(inputs), opts)
	c := &call[In, Out]{p: p}
	var bodies [][]byte
	for lo := 0; lo < len(inputs); lo += chunk {
		var err error
		if bodies, err = c.encode(bodies, inputs, lo, min(lo+chunk, len(inputs))); err != nil {
			return nil, err
		}
	}
	c.done = make(chan outcome, len(c.tasks))
	for _, t := range c.tasks {
		t.done = c.done
	}
	if err := p.publish(ctx, fn.Name(), c.tasks, bodies); err != nil {
		p.withdraw(c.tasks)
		return nil, err
	}
	return c, nil
}

// encode adds the task of inputs[lo:hi], split in halves until each fits in a message.
func (c *call[In, Out]) encode(bodies [][]byte, inputs []In, lo, hi int) ([][]byte, error) {
	b, err := codec.Marshal(inputs[lo:hi])
	if err != nil {
		return nil, fmt.Errorf("%w: inputs %d to %d: %v", procs.ErrEncode, lo, hi-1, err)
	}
	if len(b) > c.p.payload-headroom {
		if hi-lo == 1 {
			return nil, fmt.Errorf("%w: input %d takes %d bytes; the server's messages take %d", ErrTooBig, lo, len(b), c.p.payload)
		}
		mid := lo + (hi-lo)/2
		if bodies, err = c.encode(bodies, inputs, lo, mid); err != nil {
			return nil, err
		}
		return c.encode(bodies, inputs, mid, hi)
	}
	c.tasks = append(c.tasks, &task{base: lo, n: hi - lo, index: len(c.tasks)})
	return append(bodies, b), nil
}

// outputs decodes an outcome: the outputs of its task's inputs, or its failure.
func (c *call[In, Out]) outputs(o outcome) ([]Out, error) {
	if o.err != nil {
		return nil, o.err
	}
	if o.msg.Header.Get(hdrStatus) != statusOK {
		return nil, resultErr(o.msg, o.t.base)
	}
	var outs []Out
	if err := codec.Unmarshal(o.msg.Data, &outs); err != nil {
		return nil, fmt.Errorf("cluster: the outputs of inputs %d to %d: %v", o.t.base, o.t.base+o.t.n-1, err)
	}
	if len(outs) != o.t.n {
		return nil, fmt.Errorf("cluster: %d outputs for %d inputs from %d", len(outs), o.t.n, o.t.base)
	}
	return outs, nil
}

// end withdraws the tasks still out.
func (c *call[In, Out]) end() { c.p.withdraw(c.tasks) }

// Map runs fn on every input across the cluster and returns the outputs in input order, as
// procs.Map does on one host: inputs travel in tasks of procs.Chunk(n) inputs (by default
// four tasks per worker the pool counts, see Pool.Workers), each run by one worker host over
// its local pool. The first failure ends it: a *procs.TaskError (Index counts in inputs),
// procs.ErrPanic, a *procs.WorkerDiedError, procs.ErrEncode for inputs that cannot travel
// (shared objects do not cross hosts), ErrTooBig, ErrUnknownFunc, ErrMaxDeliver, or ctx's
// error. A task delivered twice (its worker host died after it ran) counts once.
func Map[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], inputs []In, opts ...procs.MapOption) ([]Out, error) {
	c, err := newCall(ctx, p, fn, inputs, opts)
	if err != nil {
		return nil, err
	}
	return c.collect(ctx, len(inputs))
}

// collect waits for every task's outputs and puts them in input order; it withdraws the tasks
// still out when it returns.
func (c *call[In, Out]) collect(ctx context.Context, n int) ([]Out, error) {
	defer c.end()
	outs := make([]Out, n)
	for range c.tasks {
		select {
		case o := <-c.done:
			part, err := c.outputs(o)
			if err != nil {
				return nil, err
			}
			copy(outs[o.t.base:], part)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return outs, nil
}

// Imap is Map that yields the outputs in input order as they come in (procs.Imap): a failure
// is yielded last, after the outputs of the inputs before it. Stopping the loop early
// withdraws the tasks not yet run.
func Imap[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], inputs []In, opts ...procs.MapOption) iter.Seq2[Out, error] {
	return imap(ctx, p, fn, inputs, opts, true)
}

// ImapUnordered is Imap that yields outputs in the order their tasks finish
// (procs.ImapUnordered): every output exactly once, a task's outputs at a time.
func ImapUnordered[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], inputs []In, opts ...procs.MapOption) iter.Seq2[Out, error] {
	return imap(ctx, p, fn, inputs, opts, false)
}

func imap[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], inputs []In, opts []procs.MapOption, ordered bool) iter.Seq2[Out, error] {
	return func(yield func(Out, error) bool) {
		var zero Out
		c, err := newCall(ctx, p, fn, inputs, opts)
		if err != nil {
			yield(zero, err)
			return
		}
		defer c.end()
		in := map[int]outcome{} // arrived ahead of their turn (ordered)
		for next := 0; next < len(c.tasks); {
			o, ok := in[next]
			if !ok || !ordered {
				select {
				case o = <-c.done:
				case <-ctx.Done():
					yield(zero, ctx.Err())
					return
				}
				if ordered && o.t.index != next {
					in[o.t.index] = o
					if o.err != nil || o.msg.Header.Get(hdrStatus) != statusOK {
						p.withdraw(c.tasks[o.t.index+1:]) // the call ends there
					}
					continue
				}
			}
			delete(in, next)
			next++
			outs, err := c.outputs(o)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, v := range outs {
				if !yield(v, nil) {
					return
				}
			}
		}
	}
}

// Apply runs fn on one input on some worker and returns its output (procs.Apply).
func Apply[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], in In) (Out, error) {
	outs, err := Map(ctx, p, fn, []In{in}, procs.Chunk(1))
	if err != nil {
		var zero Out
		return zero, err
	}
	return outs[0], nil
}

// ApplyAsync is Apply that returns with a procs.Future once the task is published
// (procs.ApplyAsync): calls made one after another are queued in that order.
func ApplyAsync[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], in In) *procs.Future[Out] {
	inner := MapAsync(ctx, p, fn, []In{in}, procs.Chunk(1))
	f, settle := procs.NewFuture[Out]()
	go func() {
		outs, err := inner.Get(context.Background())
		var v Out
		if err == nil {
			v = outs[0]
		}
		settle(v, err)
	}()
	return f
}

// MapAsync is Map that returns with a procs.Future once the tasks are published
// (procs.MapAsync); ctx bounds the call.
func MapAsync[In, Out any](ctx context.Context, p *Pool, fn *procs.Fn[In, Out], inputs []In, opts ...procs.MapOption) *procs.Future[[]Out] {
	f, settle := procs.NewFuture[[]Out]()
	c, err := newCall(ctx, p, fn, inputs, opts)
	if err != nil {
		settle(nil, err)
		return f
	}
	go func() { settle(c.collect(ctx, len(inputs))) }()
	return f
}
