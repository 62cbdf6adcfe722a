package ring

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/internal/plain"
	"github.com/shmkit/shmkit/shm"
)

// Values of any Go type over a Queue or a Pipe, as Python's put(obj) and send(obj). A type T
// that is fixed-size and pointer-free (numbers, bools, arrays and structs of them, without
// int, uint or uintptr, whose size depends on the architecture) travels as its bytes: one copy
// in, one copy out, no reflection per message. Any other T travels through the codec (see
// internal/codec: strings, slices, maps, pointers, and interface values of types registered
// with shm.RegisterType), encoded straight into the slot or record reserved for it and decoded
// straight from it, with no intermediate buffer. The ring records T's layout (its descriptor
// for a plain T, its type name otherwise): opening it as another type is ErrInvalid.

// elemOf describes T once: whether it is plain, its size if so, and the hash the layout
// records.
type elemOf struct {
	plain bool
	size  int
	hash  uint64
	name  string
}

// describe checks T once: a type none of whose values can travel (a func, a channel) is
// ErrInvalid here rather than at every Put.
func describe[T any]() (elemOf, error) {
	t := reflect.TypeFor[T]()
	if h, err := plain.Hash(t); err == nil {
		return elemOf{plain: true, size: max(int(t.Size()), 1), hash: h, name: t.String()}, nil
	}
	if err := codec.Check(t); err != nil {
		return elemOf{}, fmt.Errorf("%w: values of %s cannot travel: %w", ErrInvalid, t, err)
	}
	name := shm.TypeName(t)
	return elemOf{hash: xxhash.Sum64String("codec "+name) | 1, name: name}, nil
}

// check accepts a ring that records e's type, or none (a ring of bytes).
func (e elemOf) check(have uint64) error {
	if have != 0 && have != e.hash {
		return fmt.Errorf("%w: the ring holds another element type (layout hash %016x), not %s (%016x)",
			ErrInvalid, have, e.name, e.hash)
	}
	return nil
}

// bytesOf is v's memory, for a plain T. Sound: a plain T has no pointers and a fixed size, so
// its bytes are its whole value.
func bytesOf[T any](v *T, size int) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(v)), size) }

// A QueueOf carries values of T (see above). Make one with NewQueueOf, CreateQueueOf or
// OpenQueueOf, or view a Queue with AsQueueOf. It travels in an entry's argument as it is.
type QueueOf[T any] struct {
	q *Queue
	e elemOf
}

// NewQueueOf makes an anonymous queue of T. Options: Capacity; SlotSize, the longest encoded
// value, for a T that is not plain (a plain T's slot is its size).
func NewQueueOf[T any](opts ...shm.Option) (*QueueOf[T], error) { return makeQueueOf[T]("", opts) }

// CreateQueueOf makes the queue of T called name; shm.ErrExist if the name is taken.
func CreateQueueOf[T any](name string, opts ...shm.Option) (*QueueOf[T], error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return makeQueueOf[T](name, opts)
}

// OpenQueueOf attaches the queue called name as a queue of T (see AsQueueOf).
func OpenQueueOf[T any](name string, opts ...shm.Option) (*QueueOf[T], error) {
	q, err := OpenQueue(name, opts...)
	if err != nil {
		return nil, err
	}
	t, err := AsQueueOf[T](q)
	if err != nil {
		_ = q.Close()
	}
	return t, err
}

func makeQueueOf[T any](name string, opts []shm.Option) (*QueueOf[T], error) {
	e, err := describe[T]()
	if err != nil {
		return nil, err
	}
	if e.plain {
		opts = append(opts, SlotSize(e.size))
	}
	q, err := makeQueue(name, opts, false, e.hash)
	if err != nil {
		return nil, err
	}
	return &QueueOf[T]{q, e}, nil
}

// AsQueueOf views q as a queue of T. A queue made for another type is ErrInvalid (a queue of
// float64 is not one of int64); a queue of bytes must have slots of a plain T's size.
func AsQueueOf[T any](q *Queue) (*QueueOf[T], error) {
	e, err := describe[T]()
	if err != nil {
		return nil, err
	}
	if err := e.check(atomic.LoadUint64(&q.sh.elem)); err != nil {
		return nil, err
	}
	if e.plain && q.SlotSize() != e.size {
		return nil, fmt.Errorf("%w: slots of %d bytes, %s needs %d", ErrInvalid, q.SlotSize(), e.name, e.size)
	}
	return &QueueOf[T]{q, e}, nil
}

// Put puts v, waiting while the queue is full. A value that encodes to more than SlotSize
// bytes is ErrTooLarge, and nothing is sent.
func (t *QueueOf[T]) Put(v T) error { return t.PutContext(context.Background(), v) }

// PutContext is Put that gives up with ctx's error when ctx ends.
func (t *QueueOf[T]) PutContext(ctx context.Context, v T) error {
	if t.q.Closed() {
		return ErrClosed
	}
	if t.e.plain {
		return t.putPlain(ctx, v)
	}
	return t.putEncoded(ctx, v)
}

// putPlain copies v's bytes in: first without waiting, with v where it is (no allocation);
// a wait needs v on the heap, since the spin and sleep loops keep what they retry. (Apart from
// putEncoded, so that path's taking v's address does not move every v to the heap.)
func (t *QueueOf[T]) putPlain(ctx context.Context, v T) error {
	if done, err := t.q.tryPut(bytesOf(&v, t.e.size), t.e.size, nil); done || err != nil {
		return err
	}
	held := new(T)
	*held = v
	return t.q.put(ctx, bytesOf(held, t.e.size), t.e.size, nil)
}

// putEncoded encodes v straight into a slot.
func (t *QueueOf[T]) putEncoded(ctx context.Context, v T) error {
	n, fill, err := t.encoder(&v)
	if err != nil {
		return err
	}
	return t.q.put(ctx, nil, n, fill)
}

// TryPut puts v if a slot is free now.
func (t *QueueOf[T]) TryPut(v T) (bool, error) {
	if t.q.Closed() {
		return false, ErrClosed
	}
	if t.e.plain {
		return t.tryPutPlain(v)
	}
	return t.tryPutEncoded(v)
}

func (t *QueueOf[T]) tryPutPlain(v T) (bool, error) {
	return t.q.tryPut(bytesOf(&v, t.e.size), t.e.size, nil)
}

func (t *QueueOf[T]) tryPutEncoded(v T) (bool, error) {
	n, fill, err := t.encoder(&v)
	if err != nil {
		return false, err
	}
	return t.q.tryPut(nil, n, fill)
}

// encoder sizes v and returns the function that encodes it into a slot.
func (t *QueueOf[T]) encoder(v *T) (int, func([]byte) error, error) {
	var enc codec.Encoder
	rv := reflect.ValueOf(v).Elem()
	n, err := enc.Size(rv)
	if err != nil {
		return 0, nil, err
	}
	if n > t.q.slotSize {
		return 0, nil, fmt.Errorf("%w: a %s encoded in %d bytes, slots hold %d", ErrTooLarge, t.e.name, n, t.q.slotSize)
	}
	return n, func(area []byte) error { return encodeInto(&enc, area, rv) }, nil
}

// encodeInto encodes rv into area, whose length Size gave: no byte is written elsewhere.
func encodeInto(enc *codec.Encoder, area []byte, rv reflect.Value) error {
	b, err := enc.Append(area[:0], rv)
	if err == nil && (len(b) != len(area) || len(b) > 0 && &b[0] != &area[0]) {
		err = fmt.Errorf("%w: the value changed while it was encoded", codec.ErrEncode)
	}
	return err
}

// decodeFrom decodes the whole of msg into rv.
func decodeFrom(msg []byte, rv reflect.Value) error {
	var dec codec.Decoder
	rest, err := dec.Decode(msg, rv)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: %d bytes after the value", codec.ErrDecode, len(rest))
	}
	return err
}

// Get takes the next value, waiting while the queue is empty (io.EOF once it is shut down and
// drained).
func (t *QueueOf[T]) Get() (T, error) { return t.GetContext(context.Background()) }

// GetContext is Get that gives up with ctx's error when ctx ends.
func (t *QueueOf[T]) GetContext(ctx context.Context) (T, error) {
	if t.q.Closed() {
		var zero T
		return zero, ErrClosed
	}
	if t.e.plain {
		return t.getPlain(ctx)
	}
	return t.getEncoded(ctx)
}

// getPlain copies a value's bytes out: first without waiting, into a v on the stack, as
// putPlain.
func (t *QueueOf[T]) getPlain(ctx context.Context) (T, error) {
	var v T
	out, done, err := t.q.tryGet(bytesOf(&v, t.e.size)[:0], nil)
	if !done && err == nil {
		held := new(T)
		out, err = t.q.get(ctx, bytesOf(held, t.e.size)[:0], nil)
		v = *held
	}
	if err == nil && len(out) != t.e.size {
		err = fmt.Errorf("%w: message of %d bytes in a queue of %d-byte values", ErrCorrupt, len(out), t.e.size)
	}
	return v, err
}

// getEncoded decodes a value straight from its slot.
func (t *QueueOf[T]) getEncoded(ctx context.Context) (T, error) {
	var v T
	rv := reflect.ValueOf(&v).Elem()
	_, err := t.q.get(ctx, nil, func(msg []byte) error { return decodeFrom(msg, rv) })
	return v, err
}

// TryGet takes the next value if there is one now.
func (t *QueueOf[T]) TryGet() (T, bool, error) {
	var v T
	if t.q.Closed() {
		return v, false, ErrClosed
	}
	var ok bool
	var err error
	if t.e.plain {
		var out []byte
		out, ok, err = t.q.tryGet(bytesOf(&v, t.e.size)[:0], nil)
		if ok && len(out) != t.e.size {
			return v, false, fmt.Errorf("%w: message of %d bytes in a queue of %d-byte values", ErrCorrupt, len(out), t.e.size)
		}
	} else {
		rv := reflect.ValueOf(&v).Elem()
		_, ok, err = t.q.tryGet(nil, func(msg []byte) error { return decodeFrom(msg, rv) })
	}
	if !ok && err == nil && t.q.drained() {
		err = io.EOF
	}
	return v, ok, err
}

// Queue returns the underlying Queue.
func (t *QueueOf[T]) Queue() *Queue { return t.q }

// Len returns the number of values put and not yet got (a snapshot).
func (t *QueueOf[T]) Len() int { return t.q.Len() }

// String is the Queue's, with the element type: ring.QueueOf[main.Job](jobs, 3 of 64 ...).
func (t *QueueOf[T]) String() string {
	return t.q.describe(fmt.Sprintf("ring.QueueOf[%v]", reflect.TypeFor[T]()))
}

// Ready reports whether a value is there to be taken now (see Queue.Ready).
func (t *QueueOf[T]) Ready() bool { return t.q.Ready() }

// Poll waits until a value is there to be taken, without taking it (see Queue.Poll).
func (t *QueueOf[T]) Poll(ctx context.Context) error { return t.q.Poll(ctx) }

// Cap returns the number of values the queue holds.
func (t *QueueOf[T]) Cap() int { return t.q.Cap() }

// Close detaches this process from the queue.
func (t *QueueOf[T]) Close() error { return t.q.Close() }

// Shutdown ends the queue for every process (see Queue.Shutdown).
func (t *QueueOf[T]) Shutdown() error { return t.q.Shutdown() }

// ShutdownNow ends the queue for every process, dropping what is left (see Queue.ShutdownNow).
func (t *QueueOf[T]) ShutdownNow() error { return t.q.ShutdownNow() }

// Unlink removes the queue's name.
func (t *QueueOf[T]) Unlink() error { return t.q.Unlink() }

// ShareHandle implements shm.Shareable: a QueueOf travels as its Queue.
func (t *QueueOf[T]) ShareHandle() (shm.Handle, error) { return t.q.ShareHandle() }

// Expect implements shm.Expecter.
func (t *QueueOf[T]) Expect(pid int) error { return t.q.Expect(pid) }

// Adopt implements shm.Adopter: in a child, a *QueueOf[T] field is rebuilt around the Queue
// that arrived, which must hold T.
func (t *QueueOf[T]) Adopt(s shm.Shareable) error {
	q, ok := s.(*Queue)
	if !ok {
		return fmt.Errorf("%w: a %T cannot become a QueueOf", ErrInvalid, s)
	}
	tq, err := AsQueueOf[T](q)
	if err == nil {
		*t = *tq
	}
	return err
}
