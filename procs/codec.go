package procs

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sync"

	"github.com/shmkit/shmkit/shm"
)

// The argument codec. Plain values are written field by field in a compact binary form
// (varints, length-prefixed strings and slices, a presence byte for pointers, maps and nil
// slices). A value whose type implements shm.Shareable is written as an index into the launch's
// handle table, so the child gets its own attached object in its place; this is why gob will
// not do: it cannot point a field into the child's mapping. Decoding never trusts its input:
// every length is checked against what is left, and a malformed stream is an error.

const maxDepth = 64

var (
	shareableType   = reflect.TypeFor[shm.Shareable]()
	adopterType     = reflect.TypeFor[shm.Adopter]()
	marshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	unmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// typeClass says how a type travels, decided once per type.
type typeClass uint8

const (
	classPlain     typeClass = iota // by kind, field by field
	classShareable                  // as a handle (a pointer or interface implementing shm.Shareable)
	classMarshaler                  // as MarshalBinary's bytes (a non-pointer type)
)

var classes sync.Map // reflect.Type → typeClass

func classOf(t reflect.Type) typeClass {
	if c, ok := classes.Load(t); ok {
		return c.(typeClass)
	}
	c := classPlain
	k := t.Kind()
	switch {
	case (k == reflect.Pointer || k == reflect.Interface) && t.Implements(shareableType):
		c = classShareable
	case k != reflect.Pointer && t.Implements(marshalerType) && reflect.PointerTo(t).Implements(unmarshalerType):
		c = classMarshaler
	}
	classes.Store(t, c)
	return c
}

type structPlan struct {
	fields     []int // indexes of the fields that travel
	names      []string
	unexported string // first unexported field, which makes the type untravellable
}

var plans sync.Map // reflect.Type → *structPlan

// planOf lists a struct's travelling fields: every exported one; "_" padding is skipped.
func planOf(t reflect.Type) (*structPlan, error) {
	pl, ok := plans.Load(t)
	if !ok {
		p := &structPlan{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			switch {
			case f.Name == "_":
			case !f.IsExported():
				if p.unexported == "" {
					p.unexported = f.Name
				}
			default:
				p.fields, p.names = append(p.fields, i), append(p.names, "."+f.Name)
			}
		}
		pl, _ = plans.LoadOrStore(t, p)
	}
	p := pl.(*structPlan)
	if p.unexported != "" {
		return nil, &codecError{path: "." + p.unexported, reason: "unexported field (export it, or give the type MarshalBinary)"}
	}
	return p, nil
}

// codecError builds the path to the offending value as the error unwinds.
type codecError struct {
	path   string
	reason string
}

func (e *codecError) Error() string { return fmt.Sprintf("%s: %s", e.path, e.reason) }

func atPath(err error, step string) error {
	if ce, ok := err.(*codecError); ok {
		ce.path = step + ce.path
	}
	return err
}

type encoder struct {
	buf   []byte
	share func(shm.Shareable) (int, error) // nil: shareables are not allowed here
}

func (e *encoder) uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }

func (e *encoder) encode(v reflect.Value, depth int) error {
	t := v.Type()
	if depth > maxDepth {
		return &codecError{reason: "nested too deep (a cycle?)"}
	}
	switch classOf(t) {
	case classShareable:
		if v.IsNil() {
			e.uvarint(0)
			return nil
		}
		if e.share == nil {
			return &codecError{reason: "a shareable object cannot travel here"}
		}
		i, err := e.share(v.Interface().(shm.Shareable))
		if err != nil {
			return &codecError{reason: err.Error()}
		}
		e.uvarint(uint64(i) + 1)
		return nil
	case classMarshaler:
		b, err := v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return &codecError{reason: err.Error()}
		}
		e.uvarint(uint64(len(b)))
		e.buf = append(e.buf, b...)
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b := byte(0)
		if v.Bool() {
			b = 1
		}
		e.buf = append(e.buf, b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = binary.AppendVarint(e.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uvarint(v.Uint())
	case reflect.Float32, reflect.Float64:
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v.Float()))
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(real(c)))
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(imag(c)))
	case reflect.String:
		e.uvarint(uint64(v.Len()))
		e.buf = append(e.buf, v.String()...)
	case reflect.Slice:
		if v.IsNil() {
			e.uvarint(0)
			return nil
		}
		e.uvarint(uint64(v.Len()) + 1)
		if t.Elem().Kind() == reflect.Uint8 {
			e.buf = append(e.buf, v.Bytes()...)
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
				return atPath(err, p.names[k])
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, 0)
			return nil
		}
		e.buf = append(e.buf, 1)
		return atPath(e.encode(v.Elem(), depth+1), "*")
	case reflect.Map:
		if v.IsNil() {
			e.uvarint(0)
			return nil
		}
		e.uvarint(uint64(v.Len()) + 1)
		it := v.MapRange()
		for it.Next() {
			if err := e.encode(it.Key(), depth+1); err != nil {
				return atPath(err, "[key]")
			}
			if err := e.encode(it.Value(), depth+1); err != nil {
				return atPath(err, fmt.Sprintf("[%v]", it.Key()))
			}
		}
	case reflect.Interface:
		if !v.IsNil() {
			return &codecError{reason: fmt.Sprintf("interface value of type %s (use a concrete type)", v.Elem().Type())}
		}
		e.uvarint(0)
	default:
		return &codecError{reason: fmt.Sprintf("a %s cannot cross a process boundary", t)}
	}
	return nil
}

func (e *encoder) elems(v reflect.Value, depth int) error {
	for i := 0; i < v.Len(); i++ {
		if err := e.encode(v.Index(i), depth+1); err != nil {
			return atPath(err, fmt.Sprintf("[%d]", i))
		}
	}
	return nil
}

type decoder struct {
	buf    []byte
	attach func(i int) (shm.Shareable, error)
}

var errShort = &codecError{reason: "stream ends early"}

func (d *decoder) uvarint() (uint64, error) {
	x, n := binary.Uvarint(d.buf)
	if n <= 0 {
		return 0, &codecError{reason: "bad varint"}
	}
	d.buf = d.buf[n:]
	return x, nil
}

func (d *decoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.buf)) {
		return nil, &codecError{reason: fmt.Sprintf("length %d exceeds the %d bytes left", n, len(d.buf))}
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b, nil
}

// count reads a length for a collection of t, bounded by what the stream can still hold: every
// element takes at least a byte, unless its type encodes to nothing (struct{}, [0]T).
func (d *decoder) count(t reflect.Type) (int, bool, error) {
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
		return 0, false, &codecError{reason: fmt.Sprintf("%s of length %d in a %d-byte stream", t, n, len(d.buf))}
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

func (d *decoder) decode(v reflect.Value, depth int) error {
	t := v.Type()
	if depth > maxDepth {
		return &codecError{reason: "nested too deep"}
	}
	switch classOf(t) {
	case classShareable:
		i, err := d.uvarint()
		if err != nil || i == 0 {
			return err
		}
		obj, err := d.attach(int(i - 1))
		if err != nil {
			return &codecError{reason: err.Error()}
		}
		ov := reflect.ValueOf(obj)
		if ov.Type().AssignableTo(t) {
			v.Set(ov)
			return nil
		}
		if t.Kind() == reflect.Pointer && t.Implements(adopterType) {
			nv := reflect.New(t.Elem())
			if err := nv.Interface().(shm.Adopter).Adopt(obj); err != nil {
				return &codecError{reason: err.Error()}
			}
			v.Set(nv)
			return nil
		}
		return &codecError{reason: fmt.Sprintf("handle attaches a %s, field wants %s", ov.Type(), t)}
	case classMarshaler:
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		b, err := d.take(n)
		if err != nil {
			return err
		}
		if err := v.Addr().Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
			return &codecError{reason: err.Error()}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b, err := d.take(1)
		if err != nil {
			return err
		}
		v.SetBool(b[0] != 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, n := binary.Varint(d.buf)
		if n <= 0 {
			return &codecError{reason: "bad varint"}
		}
		d.buf = d.buf[n:]
		if v.OverflowInt(x) {
			return &codecError{reason: fmt.Sprintf("%d overflows %s", x, t)}
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x, err := d.uvarint()
		if err != nil {
			return err
		}
		if v.OverflowUint(x) {
			return &codecError{reason: fmt.Sprintf("%d overflows %s", x, t)}
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
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		b, err := d.take(n)
		if err != nil {
			return err
		}
		v.SetString(string(b))
	case reflect.Slice:
		n, isNil, err := d.count(t)
		if err != nil || isNil {
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
				return atPath(err, p.names[k])
			}
		}
	case reflect.Pointer:
		b, err := d.take(1)
		if err != nil || b[0] == 0 {
			return err
		}
		p := reflect.New(t.Elem())
		if err := d.decode(p.Elem(), depth+1); err != nil {
			return atPath(err, "*")
		}
		v.Set(p)
	case reflect.Map:
		n, isNil, err := d.count(t)
		if err != nil || isNil {
			return err
		}
		m := reflect.MakeMapWithSize(t, min(n, 1024))
		for i := 0; i < n; i++ {
			k, val := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			if err := d.decode(k, depth+1); err != nil {
				return atPath(err, "[key]")
			}
			if err := d.decode(val, depth+1); err != nil {
				return atPath(err, fmt.Sprintf("[%v]", k))
			}
			m.SetMapIndex(k, val)
		}
		v.Set(m)
	case reflect.Interface:
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		if n != 0 {
			return &codecError{reason: "non-nil interface in stream"}
		}
	default:
		return &codecError{reason: fmt.Sprintf("a %s cannot cross a process boundary", t)}
	}
	return nil
}

func (d *decoder) elems(v reflect.Value, depth int) error {
	for i := 0; i < v.Len(); i++ {
		if err := d.decode(v.Index(i), depth+1); err != nil {
			return atPath(err, fmt.Sprintf("[%d]", i))
		}
	}
	return nil
}

// marshal encodes a plain value (one with no shareable objects in it).
func marshal(v any) ([]byte, error) {
	e := &encoder{}
	err := e.encode(reflect.ValueOf(v), 0)
	return e.buf, err
}

// unmarshal decodes into *p a value marshal wrote, and insists the stream is used up.
func unmarshal(b []byte, p any) error {
	d := &decoder{buf: b, attach: func(int) (shm.Shareable, error) { return nil, errShort }}
	if err := d.decode(reflect.ValueOf(p).Elem(), 0); err != nil {
		return err
	}
	if len(d.buf) != 0 {
		return &codecError{reason: fmt.Sprintf("%d bytes left over", len(d.buf))}
	}
	return nil
}
