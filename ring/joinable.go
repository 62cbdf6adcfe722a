package ring

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/shm"
)

// A JoinableQueue is a Queue that counts unfinished tasks: Python's JoinableQueue. Every Put
// (through this value or any other handle on the same queue) adds one; TaskDone, called by a
// consumer when it has finished with a message, takes one away; Join waits for zero.
type JoinableQueue struct {
	*Queue
}

// NewJoinableQueue makes an anonymous JoinableQueue, with NewQueue's options.
func NewJoinableQueue(opts ...shm.Option) (*JoinableQueue, error) {
	return joinable(makeQueue("", opts, true, 0))
}

// CreateJoinableQueue makes the JoinableQueue called name; shm.ErrExist if the name is taken.
func CreateJoinableQueue(name string, opts ...shm.Option) (*JoinableQueue, error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return joinable(makeQueue(name, opts, true, 0))
}

// OpenJoinableQueue attaches the JoinableQueue called name; a plain Queue's name is ErrInvalid.
func OpenJoinableQueue(name string, opts ...shm.Option) (*JoinableQueue, error) {
	return joinable(OpenQueue(name, opts...))
}

func joinable(q *Queue, err error) (*JoinableQueue, error) {
	if err != nil {
		return nil, err
	}
	if atomic.LoadUint32(&q.sh.joinable) == 0 {
		_ = q.Close()
		return nil, fmt.Errorf("%w: queue %q is not joinable", ErrInvalid, q.Name())
	}
	return &JoinableQueue{q}, nil
}

// TaskDone marks one message as finished. Calling it more times than messages were put is
// ErrInvalid, and the count does not change.
func (j *JoinableQueue) TaskDone() error {
	sh := j.sh
	for {
		n := atomic.LoadUint32(&sh.unfinished)
		if n == 0 {
			return fmt.Errorf("%w: TaskDone called more times than Put", ErrInvalid)
		}
		if atomic.CompareAndSwapUint32(&sh.unfinished, n, n-1) {
			if n == 1 && atomic.LoadUint32(&sh.joiners) != 0 && atomic.SwapUint32(&sh.joiners, 0) != 0 {
				futex.Wake(&sh.unfinished, -1) // every joiner: each sets the flag again if it sleeps again
			}
			return nil
		}
	}
}

// Unfinished returns the number of tasks put and not yet done.
func (j *JoinableQueue) Unfinished() int { return int(atomic.LoadUint32(&j.sh.unfinished)) }

// Join waits until every message put has been marked done.
func (j *JoinableQueue) Join() error { return j.JoinContext(context.Background()) }

// JoinContext is Join that gives up with ctx's error when ctx ends.
func (j *JoinableQueue) JoinContext(ctx context.Context) error {
	sh := j.sh
	for {
		atomic.StoreUint32(&sh.joiners, 1) // before the last look, so TaskDone's swap sees it
		n := atomic.LoadUint32(&sh.unfinished)
		if n == 0 {
			return nil
		}
		if err := futex.Park(ctx, &sh.unfinished, n, 0); err != nil {
			return err
		}
	}
}

// Adopt implements shm.Adopter: in a child, a *JoinableQueue field is rebuilt around the Queue
// that arrived, which must be joinable.
func (j *JoinableQueue) Adopt(s shm.Shareable) error {
	q, ok := s.(*Queue)
	if !ok || atomic.LoadUint32(&q.sh.joinable) == 0 {
		return fmt.Errorf("%w: not a joinable queue", ErrInvalid)
	}
	j.Queue = q
	return nil
}

// String is the Queue's (see there), named a JoinableQueue.
func (j *JoinableQueue) String() string { return j.describe("ring.JoinableQueue") }
