package codec

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"

	"github.com/shmkit/shmkit/shm"
)

// A Decoder reads values. Attach, if set, turns a handle index back into the attached object.
type Decoder struct {
	Attach func(i int) (shm.Shareable, error)

	buf []byte
}

// Decode decodes one value from b into v (settable) and returns the bytes after it.
func (d *Decoder) Decode(b []byte, v reflect.Value) ([]byte, error) {
	d.buf = b
	err := d.decode(v, 0)
	rest := d.buf
	d.buf = nil
	return rest, err
}

// Unmarshal decodes into *p a value Marshal wrote, and insists the stream is used up.
func Unmarshal(b []byte, p any) error {
	var d Decoder
	rest, err := d.Decode(b, reflect.ValueOf(p).Elem())
	if err == nil && len(rest) != 0 {
		err = decErr("%d bytes left over", len(rest))
	}
	return err
}

func (d *Decoder) uvarint() (uint64, error) {
	x, n := binary.Uvarint(d.buf)
	if n <= 0 {
		return 0, decErr("bad varint")
	}
	d.buf = d.buf[n:]
	return x, nil
}

func (d *Decoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.buf)) {
		return nil, decErr("length %d exceeds the %d bytes left", n, len(d.buf))
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b, nil
}

// lengthPrefixed reads a uvarint length and that many bytes.
func (d *Decoder) lengthPrefixed() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	return d.take(n)
}

// count reads a length for a collection of t, bounded by what the stream can still hold: every
// element takes at least a byte, unless its type encodes to nothing (struct{}, [0]T).
func (d *Decoder) count(t reflect.Type) (int, bool, error) {
	n, err := d.uvarint()
	if err != nil || n == 0 {
		return 0, n == 0, err
	}
	n--
	limit := uint64(len(d.buf))
	if t.Kind() == reflect.Slice && encodesEmpty(t.Elem()) {
		limit = 1 << 16
	}
	if n > limit {
		return 0, false, decErr("%s of length %d in a %d-byte stream", t, n, len(d.buf))
	}
	return int(n), false, nil
}

// encodesEmpty reports whether values of t encode to no bytes at all.
func encodesEmpty(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() == 0 || encodesEmpty(t.Elem())
	case reflect.Struct:
		if classOf(t) != classPlain {
			return false
		}
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.Name != "_" && !encodesEmpty(f.Type) {
				return false
			}
		}
		return true
	}
	return false
}

func (d *Decoder) decode(v reflect.Value, depth int) error {
	t := v.Type()
	if depth > maxDepth {
		return decErr("nested too deep")
	}
	switch classOf(t) {
	case classShareable:
		return d.decodeShareable(v, t)
	case classMarshaler:
		b, err := d.lengthPrefixed()
		if err != nil {
			return err
		}
		if err := v.Addr().Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
			return &Error{Err: fmt.Errorf("%w: %w", ErrDecode, err)}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b, err := d.take(1)
		if err != nil {
			return err
		}
		if b[0] > 1 {
			return decErr("bool byte %d", b[0])
		}
		v.SetBool(b[0] == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, n := binary.Varint(d.buf)
		if n <= 0 {
			return decErr("bad varint")
		}
		d.buf = d.buf[n:]
		if v.OverflowInt(x) {
			return decErr("%d overflows %s", x, t)
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x, err := d.uvarint()
		if err != nil {
			return err
		}
		if v.OverflowUint(x) {
			return decErr("%d overflows %s", x, t)
		}
		v.SetUint(x)
	case reflect.Float32, reflect.Float64:
		b, err := d.take(8)
		if err != nil {
			return err
		}
		v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case reflect.Complex64, reflect.Complex128:
		b, err := d.take(16)
		if err != nil {
			return err
		}
		le := binary.LittleEndian
		v.SetComplex(complex(math.Float64frombits(le.Uint64(b)), math.Float64frombits(le.Uint64(b[8:]))))
	case reflect.String:
		b, err := d.lengthPrefixed()
		if err != nil {
			return err
		}
		v.SetString(string(b))
	case reflect.Slice:
		n, isNil, err := d.count(t)
		if err != nil || isNil {
			v.SetZero()
			return err
		}
		if t.Elem().Kind() == reflect.Uint8 {
			b, err := d.take(uint64(n))
			if err != nil {
				return err
			}
			v.SetBytes(append(make([]byte, 0, n), b...))
			return nil
		}
		v.Set(reflect.MakeSlice(t, n, n))
		return d.elems(v, depth)
	case reflect.Array:
		return d.elems(v, depth)
	case reflect.Struct:
		p, err := planOf(t)
		if err != nil {
			return err
		}
		for k, i := range p.fields {
			if err := d.decode(v.Field(i), depth+1); err != nil {
				return AtPath(err, p.names[k])
			}
		}
	case reflect.Pointer:
		b, err := d.take(1)
		if err != nil {
			return err
		}
		switch b[0] {
		case 0:
			v.SetZero()
			return nil
		case 1:
		default:
			return decErr("pointer presence byte %d", b[0])
		}
		p := reflect.New(t.Elem())
		if err := d.decode(p.Elem(), depth+1); err != nil {
			return AtPath(err, "*")
		}
		v.Set(p)
	case reflect.Map:
		return d.decodeMap(v, t, depth)
	case reflect.Interface:
		return d.decodeInterface(v, t, depth)
	default:
		return decErr("a %s cannot cross a process boundary", t)
	}
	return nil
}

func (d *Decoder) decodeShareable(v reflect.Value, t reflect.Type) error {
	i, err := d.uvarint()
	if err != nil || i == 0 {
		return err
	}
	if d.Attach == nil {
		return decErr("a shareable object where none may travel")
	}
	obj, err := d.Attach(int(i - 1))
	if err != nil {
		return &Error{Err: fmt.Errorf("%w: %w", ErrDecode, err)}
	}
	ov := reflect.ValueOf(obj)
	if ov.Type().AssignableTo(t) {
		v.Set(ov)
		return nil
	}
	if t.Kind() == reflect.Pointer && t.Implements(adopterType) {
		nv := reflect.New(t.Elem())
		if err := nv.Interface().(shm.Adopter).Adopt(obj); err != nil {
			return &Error{Err: fmt.Errorf("%w: %w", ErrDecode, err)}
		}
		v.Set(nv)
		return nil
	}
	return decErr("handle attaches a %s, field wants %s", ov.Type(), t)
}

func (d *Decoder) elems(v reflect.Value, depth int) error {
	for i := 0; i < v.Len(); i++ {
		if err := d.decode(v.Index(i), depth+1); err != nil {
			return AtPath(err, fmt.Sprintf("[%d]", i))
		}
	}
	return nil
}

func (d *Decoder) decodeMap(v reflect.Value, t reflect.Type, depth int) error {
	n, isNil, err := d.count(t)
	if err != nil || isNil {
		v.SetZero()
		return err
	}
	m := reflect.MakeMapWithSize(t, min(n, 1024))
	for i := 0; i < n; i++ {
		k, val := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		if err := d.decode(k, depth+1); err != nil {
			return AtPath(err, "[key]")
		}
		if err := d.decode(val, depth+1); err != nil {
			return AtPath(err, fmt.Sprintf("[%v]", k))
		}
		m.SetMapIndex(k, val)
	}
	v.Set(m)
	return nil
}

func (d *Decoder) decodeInterface(v reflect.Value, t reflect.Type, depth int) error {
	n, err := d.uvarint()
	if err != nil {
		return err
	}
	if n == 0 {
		v.SetZero()
		return nil
	}
	b, err := d.take(n - 1)
	if err != nil {
		return err
	}
	name := string(b)
	ct, ok := shm.RegisteredType(name)
	if !ok {
		return decErr("interface holding %q, which this process has not registered (shm.RegisterType)", name)
	}
	if !ct.AssignableTo(t) {
		return decErr("a %s does not fit in a %s", ct, t)
	}
	c := reflect.New(ct).Elem()
	if err := d.decode(c, depth+1); err != nil {
		return AtPath(err, "("+name+")")
	}
	v.Set(c)
	return nil
}
