package ctypes

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// An Array is n values of T in shared memory with a robust lock of its own: Python's
// multiprocessing.Array. At, Set, CopyTo, CopyFrom and Update take the lock; Lock, Unlock and
// Slice let a caller hold it across several operations. A holder that dies leaves the lock to
// the next locker with sem.ErrOwnerDead (the lock is then held: check the data, then
// Consistent). The segment is also a .npy file, as a RawArray's.
type Array[T any] struct {
	b *block
}

// NewArray makes an anonymous Array of n zero values.
func NewArray[T any](n int, opts ...shm.Option) (*Array[T], error) {
	b, err := makeTypedBlock[T](kindArray, "", n, opts, nil)
	return wrapArray[T](b, err)
}

// CreateArray makes the Array called name; shm.ErrExist if the name is taken.
func CreateArray[T any](name string, n int, opts ...shm.Option) (*Array[T], error) {
	b, err := makeTypedBlock[T](kindArray, name, n, opts, nil)
	return wrapArray[T](b, err)
}

// OpenArray attaches the Array called name; a segment of another element type is ErrType.
func OpenArray[T any](name string, opts ...shm.Option) (*Array[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	return wrapArray[T](openBlock(kindArray, e, name, opts))
}

// OpenOrCreateArray attaches the Array called name, or makes it with n elements.
func OpenOrCreateArray[T any](name string, n int, opts ...shm.Option) (*Array[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	return wrapArray[T](openOrCreateBlock(kindArray, e, name, n, opts))
}

func makeTypedBlock[T any](kind, name string, n int, opts []shm.Option, fill func([]byte)) (*block, error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	return makeBlock(kind, e, name, n, opts, fill)
}

func wrapArray[T any](b *block, err error) (*Array[T], error) {
	if err != nil {
		return nil, err
	}
	return &Array[T]{b}, nil
}

func (a *Array[T]) elems() []T { return unsafe.Slice((*T)(a.b.data), a.b.n) }

// Len returns the number of elements.
func (a *Array[T]) Len() int { return a.b.n }

// Lock takes the array's lock (see sem.Mutex.Lock: ErrOwnerDead means held, repair first).
func (a *Array[T]) Lock() error { return a.LockContext(context.Background()) }

// LockContext is Lock that gives up with ctx's error when ctx ends.
func (a *Array[T]) LockContext(ctx context.Context) error {
	if a.b.Closed() {
		return ErrClosed
	}
	return a.b.mu.LockContext(ctx)
}

// Unlock releases the array's lock.
func (a *Array[T]) Unlock() error {
	if a.b.Closed() {
		return ErrClosed
	}
	return a.b.mu.Unlock()
}

// Consistent marks a lock taken over from a dead holder as repaired (see sem.Mutex).
func (a *Array[T]) Consistent() error {
	if a.b.Closed() {
		return ErrClosed
	}
	return a.b.mu.Consistent()
}

// Slice returns the elements in place, for a caller that holds the lock (Lock … Unlock).
func (a *Array[T]) Slice() []T {
	if a.b.Closed() {
		return nil
	}
	return a.elems()
}

// locked runs fn under the lock. A lock taken over from a dead holder is handed to fn as it
// is (the data may be half-written): the error says so, and the caller decides.
func (a *Array[T]) locked(fn func(s []T) error) error {
	if err := a.Lock(); err != nil {
		return err
	}
	defer a.b.mu.Unlock()
	return fn(a.elems())
}

// At returns element i, under the lock.
func (a *Array[T]) At(i int) (T, error) {
	var v T
	if i < 0 || i >= a.b.n {
		return v, fmt.Errorf("%w: index %d of %d", ErrInvalid, i, a.b.n)
	}
	err := a.locked(func(s []T) error { v = s[i]; return nil })
	return v, err
}

// Set stores v at i, under the lock.
func (a *Array[T]) Set(i int, v T) error {
	if i < 0 || i >= a.b.n {
		return fmt.Errorf("%w: index %d of %d", ErrInvalid, i, a.b.n)
	}
	return a.locked(func(s []T) error { s[i] = v; return nil })
}

// CopyTo copies the elements into dst (up to len(dst)), under the lock, and returns how many.
func (a *Array[T]) CopyTo(dst []T) (int, error) {
	var n int
	err := a.locked(func(s []T) error { n = copy(dst, s); return nil })
	return n, err
}

// CopyFrom copies src over the first elements, under the lock, and returns how many.
func (a *Array[T]) CopyFrom(src []T) (int, error) {
	var n int
	err := a.locked(func(s []T) error { n = copy(s, src); return nil })
	return n, err
}

// Update runs fn on the elements in place, under the lock.
func (a *Array[T]) Update(fn func(s []T)) error {
	return a.locked(func(s []T) error { fn(s); return nil })
}

// Close detaches this process from the array.
func (a *Array[T]) Close() error { return a.b.Close() }

// Unlink removes the array's name (before or after Close).
func (a *Array[T]) Unlink() error { return a.b.Unlink() }

// Segment returns the segment the array lives in.
func (a *Array[T]) Segment() *shm.Segment { return a.b.Segment() }

// Name returns the name it was made or opened by, "" if anonymous.
func (a *Array[T]) Name() string { return a.b.Name() }

// ShareHandle implements shm.Shareable.
func (a *Array[T]) ShareHandle() (shm.Handle, error) { return a.b.ShareHandle() }

// Adopt implements shm.Adopter.
func (a *Array[T]) Adopt(s shm.Shareable) error {
	e, err := elemOf[T]()
	if err != nil {
		return err
	}
	b, err := adopt(s, kindArray, e)
	if err == nil {
		a.b = b
	}
	return err
}
