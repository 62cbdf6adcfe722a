package ctypes

import (
	"iter"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// A MapOf is a Map whose keys and values are fixed-size, pointer-free Go values (numbers,
// bools, fixed arrays and structs of them), stored as their bytes: map[int64]Point ports with
// no encoding. Its key and value sizes are K's and V's.
type MapOf[K comparable, V any] struct {
	m          *Map
	ksize, vsz int
}

// NewMapOf makes an anonymous MapOf (c's KeyMax and ValueMax are K's and V's sizes).
func NewMapOf[K comparable, V any](c MapConfig, opts ...shm.Option) (*MapOf[K, V], error) {
	return makeMapOf[K, V]("", c, opts)
}

// CreateMapOf makes the MapOf called name; shm.ErrExist if the name is taken.
func CreateMapOf[K comparable, V any](name string, c MapConfig, opts ...shm.Option) (*MapOf[K, V], error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return makeMapOf[K, V](name, c, opts)
}

func makeMapOf[K comparable, V any](name string, c MapConfig, opts []shm.Option) (*MapOf[K, V], error) {
	ks, vs, err := sizesOf[K, V]()
	if err != nil {
		return nil, err
	}
	c.KeyMax, c.ValueMax = ks, vs
	m, err := makeMap(name, c, opts)
	if err != nil {
		return nil, err
	}
	return &MapOf[K, V]{m, ks, vs}, nil
}

// AsMapOf views m as a MapOf[K, V]; its key and value sizes must be K's and V's.
func AsMapOf[K comparable, V any](m *Map) (*MapOf[K, V], error) {
	ks, vs, err := sizesOf[K, V]()
	if err != nil {
		return nil, err
	}
	if m.keyMax != ks || m.valMax != vs {
		return nil, errorf(ErrType, "the map holds %d-byte keys and %d-byte values, not %d and %d", m.keyMax, m.valMax, ks, vs)
	}
	return &MapOf[K, V]{m, ks, vs}, nil
}

func sizesOf[K comparable, V any]() (int, int, error) {
	k, err := elemOf[K]()
	if err != nil {
		return 0, 0, err
	}
	v, err := elemOf[V]()
	if err != nil {
		return 0, 0, err
	}
	return k.size, v.size, nil
}

// raw is a plain value's bytes. Sound: K and V are checked plain at construction.
func raw[T any](p *T, n int) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(p)), n) }

// Get returns key's value; ok reports whether it is there.
func (t *MapOf[K, V]) Get(key K) (val V, ok bool, err error) {
	_, ok, err = t.m.Get(raw(&key, t.ksize), raw(&val, t.vsz)[:0])
	return val, ok, err
}

// Set stores val under key.
func (t *MapOf[K, V]) Set(key K, val V) error { return t.m.Set(raw(&key, t.ksize), raw(&val, t.vsz)) }

// Delete removes key; ok reports whether it was there.
func (t *MapOf[K, V]) Delete(key K) (bool, error) { return t.m.Delete(raw(&key, t.ksize)) }

// Update runs fn with key's value under its stripe's lock and stores what it returns (or
// deletes the key if keep is false).
func (t *MapOf[K, V]) Update(key K, fn func(old V, ok bool) (val V, keep bool)) error {
	return t.m.Update(raw(&key, t.ksize), func(b []byte, ok bool) ([]byte, bool) {
		var old V
		copy(raw(&old, t.vsz), b)
		nv, keep := fn(old, ok)
		return raw(&nv, t.vsz), keep
	})
}

// Len returns the number of entries.
func (t *MapOf[K, V]) Len() int { return t.m.Len() }

// Range yields every entry (see Map.Range).
func (t *MapOf[K, V]) Range() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for kb, vb := range t.m.Range() {
			var k K
			var v V
			copy(raw(&k, t.ksize), kb)
			copy(raw(&v, t.vsz), vb)
			if !yield(k, v) {
				return
			}
		}
	}
}

// Map returns the underlying Map.
func (t *MapOf[K, V]) Map() *Map { return t.m }

// Close detaches this process from the map.
func (t *MapOf[K, V]) Close() error { return t.m.Close() }

// ShareHandle implements shm.Shareable: a MapOf travels as its Map.
func (t *MapOf[K, V]) ShareHandle() (shm.Handle, error) { return t.m.ShareHandle() }

// Adopt implements shm.Adopter.
func (t *MapOf[K, V]) Adopt(s shm.Shareable) error {
	m, ok := s.(*Map)
	if !ok {
		return errorf(ErrInvalid, "a %T cannot become a MapOf", s)
	}
	tm, err := AsMapOf[K, V](m)
	if err == nil {
		*t = *tm
	}
	return err
}
