package codec

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"slices"

	"github.com/shmkit/shmkit/shm"
)

// An Encoder writes values. Share, if set, turns each shareable object into an index into the
// caller's handle table; without it a shareable object is an error.
type Encoder struct {
	Share func(shm.Shareable) (int, error)

	buf   []byte
	n     int  // bytes counted, in counting mode
	count bool // count the bytes instead of writing them
}

// Append encodes v after dst and returns the extended slice.
func (e *Encoder) Append(dst []byte, v reflect.Value) ([]byte, error) {
	e.buf, e.count = dst, false
	err := e.encode(v, 0)
	b := e.buf
	e.buf = nil
	return b, err
}

// Size returns how many bytes Append would add for v.
func (e *Encoder) Size(v reflect.Value) (int, error) {
	e.n, e.count = 0, true
	err := e.encode(v, 0)
	e.count = false
	return e.n, err
}

// Append encodes v (which holds no shareable object) after dst.
func Append(dst []byte, v any) ([]byte, error) {
	var e Encoder
	return e.Append(dst, reflect.ValueOf(v))
}

// Marshal encodes v (which holds no shareable object).
func Marshal(v any) ([]byte, error) { return Append(nil, v) }

// Size returns how many bytes Marshal would write for v.
func Size(v any) (int, error) {
	var e Encoder
	return e.Size(reflect.ValueOf(v))
}

func (e *Encoder) putByte(b byte) {
	if e.count {
		e.n++
		return
	}
	e.buf = append(e.buf, b)
}

func (e *Encoder) putBytes(b []byte) {
	if e.count {
		e.n += len(b)
		return
	}
	e.buf = append(e.buf, b...)
}

func (e *Encoder) putString(s string) {
	if e.count {
		e.n += len(s)
		return
	}
	e.buf = append(e.buf, s...)
}

func (e *Encoder) uvarint(x uint64) {
	if e.count {
		e.n += (bits.Len64(x|1) + 6) / 7
		return
	}
	e.buf = binary.AppendUvarint(e.buf, x)
}

func (e *Encoder) varint(x int64) {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	e.uvarint(ux) // binary.AppendVarint's zig-zag form
}

func (e *Encoder) u64(x uint64) {
	if e.count {
		e.n += 8
		return
	}
	e.buf = binary.LittleEndian.AppendUint64(e.buf, x)
}

func (e *Encoder) encode(v reflect.Value, depth int) error {
	t := v.Type()
	if depth > maxDepth {
		return encErr("nested too deep (a cycle?)")
	}
	switch classOf(t) {
	case classShareable:
		if v.IsNil() {
			e.uvarint(0)
			return nil
		}
		if e.Share == nil {
			return encErr("a shareable %s cannot travel here (only in an entry's argument)", t)
		}
		if e.count {
			return encErr("a shareable %s cannot be sized (it travels only in an entry's argument)", t)
		}
		i, err := e.Share(v.Interface().(shm.Shareable))
		if err != nil {
			return &Error{Err: fmt.Errorf("%w: %w", ErrEncode, err)}
		}
		e.uvarint(uint64(i) + 1)
		return nil
	case classMarshaler:
		b, err := v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return &Error{Err: fmt.Errorf("%w: %w", ErrEncode, err)}
		}
		e.uvarint(uint64(len(b)))
		e.putBytes(b)
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b := byte(0)
		if v.Bool() {
			b = 1
		}
		e.putByte(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.varint(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uvarint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.u64(math.Float64bits(v.Float()))
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		e.u64(math.Float64bits(real(c)))
		e.u64(math.Float64bits(imag(c)))
	case reflect.String:
		e.uvarint(uint64(v.Len()))
		e.putString(v.String())
	case reflect.Slice:
		if v.IsNil() {
			e.uvarint(0)
			return nil
		}
		e.uvarint(uint64(v.Len()) + 1)
		if t.Elem().Kind() == reflect.Uint8 {
			e.putBytes(v.Bytes())
			return nil
		}
		return e.elems(v, depth)
	case reflect.Array:
		return e.elems(v, depth)
	case reflect.Struct:
		p, err := planOf(t)
		if err != nil {
			return err
		}
		for k, i := range p.fields {
			if err := e.encode(v.Field(i), depth+1); err != nil {
				return AtPath(err, p.names[k])
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.putByte(0)
			return nil
		}
		e.putByte(1)
		return AtPath(e.encode(v.Elem(), depth+1), "*")
	case reflect.Map:
		return e.encodeMap(v, depth)
	case reflect.Interface:
		return e.encodeInterface(v, depth)
	default:
		return encErr("a %s cannot cross a process boundary", t)
	}
	return nil
}

func (e *Encoder) elems(v reflect.Value, depth int) error {
	for i := 0; i < v.Len(); i++ {
		if err := e.encode(v.Index(i), depth+1); err != nil {
			return AtPath(err, fmt.Sprintf("[%d]", i))
		}
	}
	return nil
}

// encodeMap writes the entries sorted by their encoded keys, so equal maps encode alike
// whatever Go's iteration order (and Size counts what Append will write).
func (e *Encoder) encodeMap(v reflect.Value, depth int) error {
	if v.IsNil() {
		e.uvarint(0)
		return nil
	}
	e.uvarint(uint64(v.Len()) + 1)
	type entry struct {
		key []byte
		val reflect.Value
	}
	entries := make([]entry, 0, v.Len())
	sub := Encoder{Share: e.Share}
	it := v.MapRange()
	for it.Next() {
		kb, err := sub.Append(nil, it.Key())
		if err != nil {
			return AtPath(err, "[key]")
		}
		entries = append(entries, entry{kb, it.Value()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	for _, en := range entries {
		e.putBytes(en.key)
		if err := e.encode(en.val, depth+1); err != nil {
			return AtPath(err, "[…]")
		}
	}
	return nil
}

// encodeInterface writes nil as 0, or the concrete type's registered name and its value.
func (e *Encoder) encodeInterface(v reflect.Value, depth int) error {
	if v.IsNil() {
		e.uvarint(0)
		return nil
	}
	c := v.Elem()
	name, ok := shm.RegisteredName(c.Type())
	if !ok {
		return encErr("interface holding a %s: register it with shm.RegisterType in every process", c.Type())
	}
	e.uvarint(uint64(len(name)) + 1)
	e.putString(name)
	return AtPath(e.encode(c, depth+1), "("+name+")")
}
