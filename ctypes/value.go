package ctypes

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// A Value is one T in shared memory with a robust lock of its own: Python's
// multiprocessing.Value (and, for a struct T, Manager().Namespace()). Get, Set and Update take
// the lock. Where T is a 4- or 8-byte integer, Load, Store, Add and CompareAndSwap are single
// atomic instructions with no lock; for float32 and float64 Load, Store and CompareAndSwap work
// on the bits, and AddFloat is a compare-and-swap loop on them. Its segment is a .npy file of
// shape ().
type Value[T any] struct {
	b    *block
	word int // 4 or 8 for an integer T (atomics), 0 else
	flt  bool
}

// NewValue makes an anonymous Value holding v.
func NewValue[T any](v T, opts ...shm.Option) (*Value[T], error) {
	return wrapValue[T](makeTypedBlock[T](kindValue, "", 1, opts, bytesOf(&v)))
}

// CreateValue makes the Value called name, holding v; shm.ErrExist if the name is taken.
func CreateValue[T any](name string, v T, opts ...shm.Option) (*Value[T], error) {
	return wrapValue[T](makeTypedBlock[T](kindValue, name, 1, opts, bytesOf(&v)))
}

// bytesOf returns a fill that copies v's bytes (T is plain: its bytes are its value).
func bytesOf[T any](v *T) func([]byte) {
	return func(data []byte) { copy(data, unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))) }
}

// OpenValue attaches the Value called name; a segment of another type is ErrType.
func OpenValue[T any](name string, opts ...shm.Option) (*Value[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	return wrapValue[T](openBlock(kindValue, e, name, opts))
}

func wrapValue[T any](b *block, err error) (*Value[T], error) {
	if err != nil {
		return nil, err
	}
	v := &Value[T]{b: b}
	switch t := reflect.TypeFor[T](); t.Kind() {
	case reflect.Int32, reflect.Uint32, reflect.Int64, reflect.Uint64:
		v.word = int(t.Size())
	case reflect.Float32, reflect.Float64:
		v.word, v.flt = int(t.Size()), true
	}
	return v, nil
}

// Sound: the element is 64-byte aligned, so 4- and 8-byte words in it are aligned for atomics.
func (v *Value[T]) ptr() *T { return (*T)(v.b.data) }

// Lock takes the Value's lock (ErrOwnerDead: held, from a dead holder; repair, Consistent).
func (v *Value[T]) Lock() error { return v.LockContext(context.Background()) }

// LockContext is Lock that gives up with ctx's error when ctx ends.
func (v *Value[T]) LockContext(ctx context.Context) error {
	if v.b.Closed() {
		return ErrClosed
	}
	return v.b.mu.LockContext(ctx)
}

// Unlock releases the lock.
func (v *Value[T]) Unlock() error {
	if v.b.Closed() {
		return ErrClosed
	}
	return v.b.mu.Unlock()
}

// Consistent marks a lock taken over from a dead holder as repaired.
func (v *Value[T]) Consistent() error {
	if v.b.Closed() {
		return ErrClosed
	}
	return v.b.mu.Consistent()
}

// Get returns the value, under the lock. On sem.ErrOwnerDead the lock is held (see Lock).
func (v *Value[T]) Get() (T, error) {
	var out T
	err := v.Update(func(p *T) { out = *p })
	return out, err
}

// Set stores x, under the lock.
func (v *Value[T]) Set(x T) error { return v.Update(func(p *T) { *p = x }) }

// Update runs fn on the value in place, under the lock. On sem.ErrOwnerDead fn does not run
// and the lock is held: repair, Consistent, Unlock.
func (v *Value[T]) Update(fn func(*T)) error {
	if err := v.Lock(); err != nil {
		return err
	}
	defer v.b.mu.Unlock()
	fn(v.ptr())
	return nil
}

// Ptr returns the value in place, for a caller that holds the lock.
func (v *Value[T]) Ptr() *T {
	if v.b.Closed() {
		return nil
	}
	return v.ptr()
}

func (v *Value[T]) atomicWord() error {
	switch {
	case v.b.Closed():
		return ErrClosed
	case v.word == 0:
		return fmt.Errorf("%w: %s is not a 4- or 8-byte number (use Get/Set/Update)", ErrInvalid, reflect.TypeFor[T]())
	}
	return nil
}

// Load reads the value atomically (T a 4- or 8-byte integer).
func (v *Value[T]) Load() (T, error) {
	var out T
	if err := v.atomicWord(); err != nil {
		return out, err
	}
	p := unsafe.Pointer(v.ptr())
	if v.word == 4 {
		*(*uint32)(unsafe.Pointer(&out)) = atomic.LoadUint32((*uint32)(p))
	} else {
		*(*uint64)(unsafe.Pointer(&out)) = atomic.LoadUint64((*uint64)(p))
	}
	return out, nil
}

// Store writes x atomically.
func (v *Value[T]) Store(x T) error {
	if err := v.atomicWord(); err != nil {
		return err
	}
	p := unsafe.Pointer(v.ptr())
	if v.word == 4 {
		atomic.StoreUint32((*uint32)(p), *(*uint32)(unsafe.Pointer(&x)))
	} else {
		atomic.StoreUint64((*uint64)(p), *(*uint64)(unsafe.Pointer(&x)))
	}
	return nil
}

// Add adds delta atomically (two's complement: a negative delta subtracts) and returns the new
// value.
func (v *Value[T]) Add(delta T) (T, error) {
	var out T
	if err := v.atomicWord(); err != nil {
		return out, err
	}
	if v.flt {
		return out, fmt.Errorf("%w: Add on a %s: use AddFloat", ErrInvalid, reflect.TypeFor[T]())
	}
	p := unsafe.Pointer(v.ptr())
	if v.word == 4 {
		*(*uint32)(unsafe.Pointer(&out)) = atomic.AddUint32((*uint32)(p), *(*uint32)(unsafe.Pointer(&delta)))
	} else {
		*(*uint64)(unsafe.Pointer(&out)) = atomic.AddUint64((*uint64)(p), *(*uint64)(unsafe.Pointer(&delta)))
	}
	return out, nil
}

// CompareAndSwap stores new if the value is old, atomically, and reports whether it did.
func (v *Value[T]) CompareAndSwap(old, new T) (bool, error) {
	if err := v.atomicWord(); err != nil {
		return false, err
	}
	p := unsafe.Pointer(v.ptr())
	if v.word == 4 {
		return atomic.CompareAndSwapUint32((*uint32)(p), *(*uint32)(unsafe.Pointer(&old)), *(*uint32)(unsafe.Pointer(&new))), nil
	}
	return atomic.CompareAndSwapUint64((*uint64)(p), *(*uint64)(unsafe.Pointer(&old)), *(*uint64)(unsafe.Pointer(&new))), nil
}

// AddFloat adds delta to a float64 Value by a compare-and-swap loop on its bits, with no lock,
// and returns the new value.
func (v *Value[T]) AddFloat(delta float64) (float64, error) {
	switch {
	case v.b.Closed():
		return 0, ErrClosed
	case !v.flt || v.word != 8:
		return 0, fmt.Errorf("%w: AddFloat on a %s", ErrInvalid, reflect.TypeFor[T]())
	}
	p := (*uint64)(unsafe.Pointer(v.ptr()))
	for {
		old := atomic.LoadUint64(p)
		sum := math.Float64frombits(old) + delta
		if atomic.CompareAndSwapUint64(p, old, math.Float64bits(sum)) {
			return sum, nil
		}
	}
}

// Close detaches this process from the Value.
func (v *Value[T]) Close() error { return v.b.Close() }

// Unlink removes the Value's name (before or after Close).
func (v *Value[T]) Unlink() error { return v.b.Unlink() }

// Segment returns the segment the Value lives in.
func (v *Value[T]) Segment() *shm.Segment { return v.b.Segment() }

// Name returns the name it was made or opened by, "" if anonymous.
func (v *Value[T]) Name() string { return v.b.Name() }

// ShareHandle implements shm.Shareable.
func (v *Value[T]) ShareHandle() (shm.Handle, error) { return v.b.ShareHandle() }

// Adopt implements shm.Adopter.
func (v *Value[T]) Adopt(s shm.Shareable) error {
	e, err := elemOf[T]()
	if err != nil {
		return err
	}
	b, err := adopt(s, kindValue, e)
	if err != nil {
		return err
	}
	nv, _ := wrapValue[T](b, nil)
	*v = *nv
	return nil
}
