package ring

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/shm"
)

// A PipeOf carries values of T from one writer process to one reader process (Python's
// Connection.send(obj) and recv()), each value one record (see QueueOf for how values travel).
// Make one with NewPipeOf, CreatePipeOf or OpenPipeOf, or view a Pipe with AsPipeOf; take its
// typed ends with Writer and Reader. It travels in an entry's argument as it is.
type PipeOf[T any] struct {
	p *Pipe
	e elemOf
}

// String is the Pipe's, with the element type.
func (t *PipeOf[T]) String() string {
	return fmt.Sprintf("ring.PipeOf[%v]%s", reflect.TypeFor[T](), strings.TrimPrefix(t.p.String(), "ring.Pipe"))
}

// NewPipeOf makes an anonymous pipe of T (options as for NewPipe).
func NewPipeOf[T any](opts ...shm.Option) (*PipeOf[T], error) { return makePipeOf[T]("", opts) }

// CreatePipeOf makes the pipe of T called name; shm.ErrExist if the name is taken.
func CreatePipeOf[T any](name string, opts ...shm.Option) (*PipeOf[T], error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return makePipeOf[T](name, opts)
}

// OpenPipeOf attaches the pipe called name as a pipe of T (see AsPipeOf).
func OpenPipeOf[T any](name string, opts ...shm.Option) (*PipeOf[T], error) {
	p, err := OpenPipe(name, opts...)
	if err != nil {
		return nil, err
	}
	t, err := AsPipeOf[T](p)
	if err != nil {
		_ = p.Close()
	}
	return t, err
}

func makePipeOf[T any](name string, opts []shm.Option) (*PipeOf[T], error) {
	e, err := describe[T]()
	if err != nil {
		return nil, err
	}
	p, err := makePipe(name, opts, e.hash)
	if err != nil {
		return nil, err
	}
	return &PipeOf[T]{p, e}, nil
}

// AsPipeOf views p as a pipe of T; a pipe made for another type is ErrInvalid.
func AsPipeOf[T any](p *Pipe) (*PipeOf[T], error) {
	e, err := describe[T]()
	if err != nil {
		return nil, err
	}
	if err := e.check(atomic.LoadUint64(&p.sh.elem)); err != nil {
		return nil, err
	}
	return &PipeOf[T]{p, e}, nil
}

// Writer claims the writing end (see Pipe.Writer).
func (t *PipeOf[T]) Writer() (*WriterOf[T], error) {
	w, err := t.p.Writer()
	if err != nil {
		return nil, err
	}
	return &WriterOf[T]{w, t.e}, nil
}

// Reader claims the reading end (see Pipe.Reader).
func (t *PipeOf[T]) Reader() (*ReaderOf[T], error) {
	r, err := t.p.Reader()
	if err != nil {
		return nil, err
	}
	return &ReaderOf[T]{r, t.e}, nil
}

// Pipe returns the underlying Pipe.
func (t *PipeOf[T]) Pipe() *Pipe { return t.p }

// Close detaches this process from the pipe.
func (t *PipeOf[T]) Close() error { return t.p.Close() }

// Shutdown ends the pipe for every process (see Pipe.Shutdown).
func (t *PipeOf[T]) Shutdown() error { return t.p.Shutdown() }

// Unlink removes the pipe's name.
func (t *PipeOf[T]) Unlink() error { return t.p.Unlink() }

// ShareHandle implements shm.Shareable: a PipeOf travels as its Pipe.
func (t *PipeOf[T]) ShareHandle() (shm.Handle, error) { return t.p.ShareHandle() }

// Expect implements shm.Expecter.
func (t *PipeOf[T]) Expect(pid int) error { return t.p.Expect(pid) }

// Adopt implements shm.Adopter: in a child, a *PipeOf[T] field is rebuilt around the Pipe
// that arrived, which must hold T.
func (t *PipeOf[T]) Adopt(s shm.Shareable) error {
	p, ok := s.(*Pipe)
	if !ok {
		return fmt.Errorf("%w: a %T cannot become a PipeOf", ErrInvalid, s)
	}
	tp, err := AsPipeOf[T](p)
	if err == nil {
		*t = *tp
	}
	return err
}

// A WriterOf is the writing end of a PipeOf.
type WriterOf[T any] struct {
	w *Writer
	e elemOf
}

// Send sends v as one record, waiting for space. A value that encodes to more than MaxRecord
// bytes is ErrTooLarge, and nothing is sent.
func (t *WriterOf[T]) Send(v T) error { return t.SendContext(context.Background(), v) }

// SendContext is Send that gives up with ctx's error when ctx ends.
func (t *WriterOf[T]) SendContext(ctx context.Context, v T) error {
	if t.e.plain {
		return t.sendPlain(ctx, v)
	}
	return t.sendEncoded(ctx, v)
}

// sendPlain copies v's bytes into a record (apart from sendEncoded, whose taking v's address
// would move every v to the heap).
func (t *WriterOf[T]) sendPlain(ctx context.Context, v T) error {
	return t.w.SendContext(ctx, bytesOf(&v, t.e.size))
}

// sendEncoded encodes v straight into a record.
func (t *WriterOf[T]) sendEncoded(ctx context.Context, v T) error {
	var enc codec.Encoder
	rv := reflect.ValueOf(&v).Elem()
	n, err := enc.Size(rv)
	if err != nil {
		return err
	}
	if n > t.w.p.MaxRecord() {
		return fmt.Errorf("%w: a %s encoded in %d bytes, this pipe carries at most %d", ErrTooLarge, t.e.name, n, t.w.p.MaxRecord())
	}
	buf, err := t.w.ReserveContext(ctx, n)
	if err != nil {
		return err
	}
	if err := encodeInto(&enc, buf, rv); err != nil {
		t.w.cancel(n)
		return err
	}
	t.w.publishDue() // at once, or once a buffer's worth waits (see SetBuffer)
	return nil
}

// SetBuffer makes Send buffer its records, published once size bytes of them wait or at
// Flush or Close, as Writer.SetBuffer does.
func (t *WriterOf[T]) SetBuffer(size int) error { return t.w.SetBuffer(size) }

// Flush publishes what a buffered Send left waiting (see SetBuffer).
func (t *WriterOf[T]) Flush() error { return t.w.Flush() }

// Writer returns the untyped end, for SetWaitMode and the rest.
func (t *WriterOf[T]) Writer() *Writer { return t.w }

// Close ends the stream: the reader gets what was sent, then io.EOF.
func (t *WriterOf[T]) Close() error { return t.w.Close() }

// A ReaderOf is the reading end of a PipeOf.
type ReaderOf[T any] struct {
	r *Reader
	e elemOf
}

// Ready reports whether a value is there to be received now (see Reader.Ready).
func (t *ReaderOf[T]) Ready() bool { return t.r.Ready() }

// Poll waits until a value is there to be received, without taking it (see Reader.Poll).
func (t *ReaderOf[T]) Poll(ctx context.Context) error { return t.r.Poll(ctx) }

// Recv takes the next value, waiting for one; io.EOF after the writer closed and every value
// was taken.
func (t *ReaderOf[T]) Recv() (T, error) { return t.RecvContext(context.Background()) }

// RecvContext is Recv that gives up with ctx's error when ctx ends.
func (t *ReaderOf[T]) RecvContext(ctx context.Context) (T, error) {
	rec, err := t.r.NextContext(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer t.r.release()
	if t.e.plain {
		return t.copyOut(rec)
	}
	return t.decode(rec)
}

func (t *ReaderOf[T]) copyOut(rec []byte) (T, error) {
	var v T
	if len(rec) != t.e.size {
		return v, fmt.Errorf("%w: a record of %d bytes in a pipe of %d-byte values", ErrCorrupt, len(rec), t.e.size)
	}
	copy(bytesOf(&v, t.e.size), rec)
	return v, nil
}

func (t *ReaderOf[T]) decode(rec []byte) (T, error) {
	var v T
	err := decodeFrom(rec, reflect.ValueOf(&v).Elem())
	return v, err
}

// Reader returns the untyped end, for Close, SetWaitMode and the rest.
func (t *ReaderOf[T]) Reader() *Reader { return t.r }

// Close gives up the reading end.
func (t *ReaderOf[T]) Close() error { return t.r.Close() }
