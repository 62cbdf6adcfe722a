package ctypes

import (
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"unsafe"
)

// The String methods show what Python's repr shows and a little more: the type, the name (or
// "anonymous"), the contents (a snapshot, read without the lock: a String must not block, and
// must not take a lock from a dead holder, which would hide that from the next Lock), and, while
// it is held, the lock as sem.Mutex shows it (the holder's pid, and whether it died), for fmt
// and debuggers.

// String shows the Value's name, its value and its lock: ctypes.Value[int64](counter, 42).
func (v *Value[T]) String() string {
	return v.b.describe("Value", reflect.TypeFor[T](), func() string {
		var x T
		p := unsafe.Pointer(v.ptr())
		switch v.word {
		case 4:
			*(*uint32)(unsafe.Pointer(&x)) = atomic.LoadUint32((*uint32)(p))
		case 8:
			*(*uint64)(unsafe.Pointer(&x)) = atomic.LoadUint64((*uint64)(p))
		default:
			x = *v.ptr()
		}
		return fmt.Sprint(x)
	})
}

// String shows the Array's name, length, first elements and lock:
// ctypes.Array[float64](anonymous, len 1000: [0 0.5 1 1.5 2 2.5 3 3.5 ...]).
func (a *Array[T]) String() string {
	return a.b.describe("Array", reflect.TypeFor[T](), func() string { return elements(a.elems()) })
}

// String shows the RawArray's name, length and first elements.
func (a *RawArray[T]) String() string {
	return a.b.describe("RawArray", reflect.TypeFor[T](), func() string {
		return elements(unsafe.Slice((*T)(a.b.data), a.b.n))
	})
}

// describe is the String of every array kind.
func (b *block) describe(kind string, t reflect.Type, contents func() string) string {
	name := b.Name()
	if name == "" {
		name = "anonymous"
	}
	if b.Closed() {
		return fmt.Sprintf("ctypes.%s[%v](%s, closed)", kind, t, name)
	}
	lock := ""
	if kind != "RawArray" && b.mu != nil && b.mu.Locked() { // a RawArray has no lock
		lock = ", " + b.mu.String() // the holder's pid, and whether it is dead
	}
	if kind == "Value" {
		return fmt.Sprintf("ctypes.%s[%v](%s, %s%s)", kind, t, name, contents(), lock)
	}
	return fmt.Sprintf("ctypes.%s[%v](%s, len %d: %s%s)", kind, t, name, b.n, contents(), lock)
}

// showElems is how many elements an array's String shows.
const showElems = 8

// elements formats the first showElems of s as fmt does a slice, "..." after them if there
// are more.
func elements[T any](s []T) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, x := range s[:min(len(s), showElems)] {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprint(&sb, x)
	}
	if len(s) > showElems {
		sb.WriteString(" ...")
	}
	sb.WriteByte(']')
	return sb.String()
}

// String shows the map's name and how full it is: ctypes.Map(prices, 12 of 1024 entries).
func (m *Map) String() string {
	name := m.Name()
	if name == "" {
		name = "anonymous"
	}
	if m.Closed() {
		return fmt.Sprintf("ctypes.Map(%s, closed)", name)
	}
	return fmt.Sprintf("ctypes.Map(%s, %d of %d entries)", name, m.Len(), m.Cap())
}

// String shows the map's types, name and how full it is.
func (m *MapOf[K, V]) String() string {
	return fmt.Sprintf("ctypes.MapOf[%v,%v]%s", reflect.TypeFor[K](), reflect.TypeFor[V](), strings.TrimPrefix(m.m.String(), "ctypes.Map"))
}
