package ctypes

import (
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// A RawArray is n values of T in shared memory with no lock: Python's
// multiprocessing.sharedctypes.RawArray. Slice is the zero-copy view. T must be fixed-size and
// pointer-free (numbers, bools, fixed arrays and structs of them; not int, uint or uintptr),
// checked once at construction. The segment is also a .npy file: numpy maps it with
// np.load(path, mmap_mode='r+'), or python/shmkit.py's attach(name).
type RawArray[T any] struct {
	b *block
}

// NewRawArray makes an anonymous RawArray of n zero values; it travels to children in an
// entry's argument.
func NewRawArray[T any](n int, opts ...shm.Option) (*RawArray[T], error) {
	return makeRaw[T]("", n, opts)
}

// CreateRawArray makes the RawArray called name; shm.ErrExist if the name is taken.
func CreateRawArray[T any](name string, n int, opts ...shm.Option) (*RawArray[T], error) {
	return makeRaw[T](name, n, opts)
}

// OpenRawArray attaches the RawArray called name; its length is the segment's. A segment of
// another element type is ErrType, naming both.
func OpenRawArray[T any](name string, opts ...shm.Option) (*RawArray[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	b, err := openBlock(kindRaw, e, name, opts)
	if err != nil {
		return nil, err
	}
	return &RawArray[T]{b}, nil
}

// OpenOrCreateRawArray attaches the RawArray called name, or makes it with n elements.
func OpenOrCreateRawArray[T any](name string, n int, opts ...shm.Option) (*RawArray[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	b, err := openOrCreateBlock(kindRaw, e, name, n, opts)
	if err != nil {
		return nil, err
	}
	return &RawArray[T]{b}, nil
}

func makeRaw[T any](name string, n int, opts []shm.Option) (*RawArray[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	b, err := makeBlock(kindRaw, e, name, n, opts, nil)
	if err != nil {
		return nil, err
	}
	return &RawArray[T]{b}, nil
}

// Slice returns the elements, in shared memory: no copy, no lock. It is valid until Close,
// and never dangles while in use: a RawArray the program forgot is closed by the garbage
// collector without its memory being unmapped (see shm's GC rule). Nil after Close.
func (a *RawArray[T]) Slice() []T {
	if a.b.Closed() {
		return nil
	}
	// Sound: the data starts 64-byte aligned in the mapping and holds n elements of T, a plain
	// type checked at construction.
	return unsafe.Slice((*T)(a.b.data), a.b.n)
}

// Len returns the number of elements.
func (a *RawArray[T]) Len() int { return a.b.n }

// Close detaches this process from the array.
func (a *RawArray[T]) Close() error { return a.b.Close() }

// Unlink removes the array's name (before or after Close).
func (a *RawArray[T]) Unlink() error { return a.b.Unlink() }

// Segment returns the segment the array lives in.
func (a *RawArray[T]) Segment() *shm.Segment { return a.b.Segment() }

// Name returns the array's name, "" if anonymous.
func (a *RawArray[T]) Name() string { return a.b.Name() }

// ShareHandle implements shm.Shareable.
func (a *RawArray[T]) ShareHandle() (shm.Handle, error) { return a.b.ShareHandle() }

// Adopt implements shm.Adopter: a *RawArray[T] field of a child's argument is rebuilt around
// the array that arrived, which must hold T.
func (a *RawArray[T]) Adopt(s shm.Shareable) error {
	e, err := elemOf[T]()
	if err != nil {
		return err
	}
	b, err := adopt(s, kindRaw, e)
	if err == nil {
		a.b = b
	}
	return err
}
