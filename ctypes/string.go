package ctypes

import (
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/object"
)

// The String methods show what Python's repr shows and a little more: the type, the name (or
// "anonymous"), the contents (a snapshot, read without the lock: a String must not block, and
// must not take a lock from a dead holder, which would hide that from the next Lock), and, while
// it is held, the lock as sem.Mutex shows it (the holder's pid, and whether it died), for fmt
// and debuggers.

// String shows the Value's name, its value and its lock: ctypes.Value[int64](counter, 42).
func (v *Value[T]) String() string {
	return v.b.describe("Value", reflect.TypeFor[T]().String(), func() string {
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
	return a.b.describe("Array", reflect.TypeFor[T]().String(), func() string { return elements(a.elems()) })
}

// String shows the RawArray's name, length and first elements.
func (a *RawArray[T]) String() string {
	return a.b.describe("RawArray", reflect.TypeFor[T]().String(), func() string {
		return elements(unsafe.Slice((*T)(a.b.data), a.b.n))
	})
}

// String shows an array the package attached knowing only its kind (shmkit info does so): as
// its typed view does for the numpy types that map to Go numbers, else with its numpy descr.
func (b *block) String() string {
	descr := strings.Trim(npyDescr(b.seg.Bytes()), "'")
	if v, ok := descrViews[descr]; ok {
		return b.describe(strings.TrimPrefix(b.kind, "ctypes."), v.typ, v.view(b))
	}
	return b.describe(strings.TrimPrefix(b.kind, "ctypes."), descr, nil)
}

// descrViews maps the numpy descrs of Go's numbers to their Go names and readers.
var descrViews = map[string]struct {
	typ  string
	view func(*block) func() string
}{
	"<f8": {"float64", viewOf[float64]}, "<f4": {"float32", viewOf[float32]},
	"<i8": {"int64", viewOf[int64]}, "<i4": {"int32", viewOf[int32]},
	"<i2": {"int16", viewOf[int16]}, "|i1": {"int8", viewOf[int8]},
	"<u8": {"uint64", viewOf[uint64]}, "<u4": {"uint32", viewOf[uint32]},
	"<u2": {"uint16", viewOf[uint16]}, "|u1": {"uint8", viewOf[uint8]},
	"|b1": {"bool", viewOf[bool]},
}

// viewOf returns the contents of b read as T, for String.
func viewOf[T any](b *block) func() string {
	return func() string {
		s := unsafe.Slice((*T)(b.data), b.n)
		if b.kind == kindValue {
			return fmt.Sprint(s[0])
		}
		return elements(s)
	}
}

// describe is the String of every array kind; contents, if not nil, formats the elements.
func (b *block) describe(kind, typ string, contents func() string) string {
	name := object.Label(b.Name())
	if b.Closed() {
		return fmt.Sprintf("ctypes.%s[%s](%s, closed)", kind, typ, name)
	}
	lock := ""
	if kind != "RawArray" && b.mu != nil && b.mu.Locked() { // a RawArray has no lock
		lock = ", " + b.mu.String() // the holder's pid, and whether it is dead
	}
	switch {
	case kind == "Value" && contents != nil:
		return fmt.Sprintf("ctypes.%s[%s](%s, %s%s)", kind, typ, name, contents(), lock)
	case kind == "Value":
		return fmt.Sprintf("ctypes.%s[%s](%s%s)", kind, typ, name, lock)
	case contents != nil:
		return fmt.Sprintf("ctypes.%s[%s](%s, len %d: %s%s)", kind, typ, name, b.n, contents(), lock)
	}
	return fmt.Sprintf("ctypes.%s[%s](%s, len %d%s)", kind, typ, name, b.n, lock)
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
	name := object.Label(m.Name())
	if m.Closed() {
		return fmt.Sprintf("ctypes.Map(%s, closed)", name)
	}
	return fmt.Sprintf("ctypes.Map(%s, %d of %d entries)", name, m.Len(), m.Cap())
}

// String shows the map's types, name and how full it is.
func (m *MapOf[K, V]) String() string {
	return fmt.Sprintf("ctypes.MapOf[%v,%v]%s", reflect.TypeFor[K](), reflect.TypeFor[V](), strings.TrimPrefix(m.m.String(), "ctypes.Map"))
}
