package ring

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/plain"
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
	if err := shm.ValidateName(name); err != nil {
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

// A TypedQueue carries values of a fixed-size, pointer-free type T (numbers, bools, arrays and
// structs of them): each Put copies T's bytes into a slot and each Get copies them out, with no
// reflection or encoding per message.
type TypedQueue[T any] struct {
	q    *Queue
	size int
}

// typedLayout checks T once, by reflection, and returns its size and the hash of its
// descriptor (see package plain) that the queue's layout records.
func typedLayout[T any]() (int, uint64, error) {
	t := reflect.TypeFor[T]()
	h, err := plain.Hash(t)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return max(int(t.Size()), 1), h, nil
}

// NewTypedQueue makes an anonymous queue of values of T (option: Capacity; the slot size is
// T's). A T with pointers, slices, strings, maps or interfaces, or with int, uint or uintptr
// (whose size depends on the architecture) is ErrInvalid, naming the offending field. The
// queue records T's layout: viewing it as another type is an error, not a reinterpretation.
func NewTypedQueue[T any](opts ...shm.Option) (*TypedQueue[T], error) { return makeTyped[T]("", opts) }

// CreateTypedQueue makes the queue of T called name; shm.ErrExist if the name is taken.
func CreateTypedQueue[T any](name string, opts ...shm.Option) (*TypedQueue[T], error) {
	if err := shm.ValidateName(name); err != nil {
		return nil, err
	}
	return makeTyped[T](name, opts)
}

// OpenTypedQueue attaches the queue called name as a queue of T (see Typed).
func OpenTypedQueue[T any](name string, opts ...shm.Option) (*TypedQueue[T], error) {
	q, err := OpenQueue(name, opts...)
	if err != nil {
		return nil, err
	}
	t, err := Typed[T](q)
	if err != nil {
		_ = q.Close()
	}
	return t, err
}

func makeTyped[T any](name string, opts []shm.Option) (*TypedQueue[T], error) {
	size, elem, err := typedLayout[T]()
	if err != nil {
		return nil, err
	}
	q, err := makeQueue(name, append(opts, SlotSize(size)), false, elem)
	if err != nil {
		return nil, err
	}
	return &TypedQueue[T]{q, size}, nil
}

// Typed views an existing Queue as a TypedQueue of T. A queue made by NewTypedQueue must hold
// T's layout (ErrInvalid otherwise: a queue of float64 is not one of int64); a plain byte
// queue must have slots of T's size.
func Typed[T any](q *Queue) (*TypedQueue[T], error) {
	size, elem, err := typedLayout[T]()
	if err != nil {
		return nil, err
	}
	if have := atomic.LoadUint64(&q.sh.elem); have != 0 && have != elem {
		return nil, fmt.Errorf("%w: the queue holds another element type (layout hash %016x), not %s (%016x)",
			ErrInvalid, have, reflect.TypeFor[T](), elem)
	}
	if q.SlotSize() != size {
		return nil, fmt.Errorf("%w: slots of %d bytes, %s needs %d", ErrInvalid, q.SlotSize(), reflect.TypeFor[T](), size)
	}
	return &TypedQueue[T]{q, size}, nil
}

func (t *TypedQueue[T]) bytes(v *T) []byte {
	// Sound: T is plain (checked at construction), so its bytes are its whole value.
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), t.size)
}

// Put copies v into the queue, waiting while it is full.
func (t *TypedQueue[T]) Put(v T) error { return t.PutContext(context.Background(), v) }

// PutContext is Put that gives up with ctx's error when ctx ends.
func (t *TypedQueue[T]) PutContext(ctx context.Context, v T) error {
	return t.q.PutContext(ctx, t.bytes(&v))
}

// TryPut puts v if a slot is free now.
func (t *TypedQueue[T]) TryPut(v T) (bool, error) { return t.q.TryPut(t.bytes(&v)) }

// Get takes the next value, waiting while the queue is empty.
func (t *TypedQueue[T]) Get() (T, error) { return t.GetContext(context.Background()) }

// GetContext is Get that gives up with ctx's error when ctx ends.
func (t *TypedQueue[T]) GetContext(ctx context.Context) (T, error) {
	var v T
	out, err := t.q.GetContext(ctx, t.bytes(&v)[:0])
	if err == nil && len(out) != t.size {
		err = fmt.Errorf("%w: message of %d bytes in a queue of %d-byte values", ErrCorrupt, len(out), t.size)
	}
	return v, err
}

// TryGet takes the next value if there is one now.
func (t *TypedQueue[T]) TryGet() (T, bool, error) {
	var v T
	out, ok, err := t.q.TryGet(t.bytes(&v)[:0])
	if ok && len(out) != t.size {
		return v, false, fmt.Errorf("%w: message of %d bytes in a queue of %d-byte values", ErrCorrupt, len(out), t.size)
	}
	return v, ok, err
}

// Queue returns the underlying Queue.
func (t *TypedQueue[T]) Queue() *Queue { return t.q }

// Close detaches this process from the queue.
func (t *TypedQueue[T]) Close() error { return t.q.Close() }

// Shutdown ends the queue for every process (see Queue.Shutdown).
func (t *TypedQueue[T]) Shutdown() error { return t.q.Shutdown() }

// Unlink removes the queue's name.
func (t *TypedQueue[T]) Unlink() error { return t.q.Unlink() }

// Len returns the number of values put and not yet got (a snapshot).
func (t *TypedQueue[T]) Len() int { return t.q.Len() }

// ShareHandle implements shm.Shareable: a TypedQueue travels as its Queue.
func (t *TypedQueue[T]) ShareHandle() (shm.Handle, error) { return t.q.ShareHandle() }

// Adopt implements shm.Adopter: in a child, a *TypedQueue[T] field is rebuilt around the Queue
// that arrived, whose slots must fit T.
func (t *TypedQueue[T]) Adopt(s shm.Shareable) error {
	q, ok := s.(*Queue)
	if !ok {
		return fmt.Errorf("%w: a %T cannot become a TypedQueue", ErrInvalid, s)
	}
	tq, err := Typed[T](q)
	if err == nil {
		*t = *tq
	}
	return err
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

// Expect implements shm.Expecter: process pid, just started, is about to attach the queue.
func (t *TypedQueue[T]) Expect(pid int) error { return t.q.Expect(pid) }
