// Package codec encodes Go values for another process of the same program: entry arguments,
// the messages of typed queues and pipes, Pool tasks and results. Plain values are written
// field by field in a compact binary form (varints, length-prefixed strings and slices, a
// presence byte for pointers, maps and nil slices; map entries sorted by their encoded keys,
// so a value always encodes to the same bytes). A value whose type implements shm.Shareable
// is written as an index into a handle table, so the receiver gets its own attached object in
// its place (this is why gob will not do: it cannot point a field into the receiver's
// mapping). An interface value travels as its concrete type's registered name
// (shm.RegisterType) and its value, as with gob. Decoding never trusts its input: every length
// is checked against what is left, and a malformed stream is an error, never a panic.
//
// Encoding can first count (Size), so a value is encoded once, straight into space reserved
// for it (a ring record or slot), with no intermediate buffer.
package codec

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/shmkit/shmkit/shm"
)

// Errors, wrapped in an *Error naming the path to the value at fault.
var (
	// ErrEncode: the value has a part that cannot travel (a channel, a func, an unexported
	// field, an unregistered concrete type in an interface, a shareable where none may go).
	ErrEncode = errors.New("codec: value cannot travel")
	// ErrDecode: the stream is malformed, or does not fit the type it is decoded into.
	ErrDecode = errors.New("codec: malformed stream")
)

// An Error is a failure at Path inside the value (".Field[3].Name", "*", "[key]").
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func encErr(format string, a ...any) error {
	return &Error{Err: fmt.Errorf("%w: "+format, append([]any{ErrEncode}, a...)...)}
}

func decErr(format string, a ...any) error {
	return &Error{Err: fmt.Errorf("%w: "+format, append([]any{ErrDecode}, a...)...)}
}

// AtPath prefixes step to the path of err, if it is an *Error.
func AtPath(err error, step string) error {
	var ce *Error
	if errors.As(err, &ce) {
		ce.Path = step + ce.Path
	}
	return err
}

const maxDepth = 64

var (
	shareableType   = reflect.TypeFor[shm.Shareable]()
	adopterType     = reflect.TypeFor[shm.Adopter]()
	marshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	unmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

func init() {
	// The concrete types a port of Python code sends inside any most often.
	for _, v := range []any{false, int8(0), int16(0), int32(0), int64(0), int(0), uint8(0), uint16(0),
		uint32(0), uint64(0), uint(0), float32(0), float64(0), complex64(0), complex128(0), "",
		[]byte(nil), []any(nil), map[string]any(nil), []string(nil), []int(nil), []float64(nil),
		time.Time{}, time.Duration(0)} {
		shm.RegisterType(v)
	}
}

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
		return nil, AtPath(encErr("unexported field (export it, or give the type MarshalBinary)"), "."+p.unexported)
	}
	return p, nil
}

// Check reports whether values of t can travel, without a value: it refuses the kinds that
// never can (funcs, channels, unsafe pointers) and structs with unexported fields, wherever
// they sit in t. What an interface holds is checked when a value is encoded.
func Check(t reflect.Type) error { return check(t, map[reflect.Type]bool{}) }

func check(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] || classOf(t) != classPlain {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Invalid:
		return encErr("a %s cannot cross a process boundary", t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return AtPath(check(t.Elem(), seen), "[]")
	case reflect.Map:
		if err := check(t.Key(), seen); err != nil {
			return AtPath(err, "[key]")
		}
		return AtPath(check(t.Elem(), seen), "[…]")
	case reflect.Struct:
		p, err := planOf(t)
		if err != nil {
			return err
		}
		for k, i := range p.fields {
			if err := check(t.Field(i).Type, seen); err != nil {
				return AtPath(err, p.names[k])
			}
		}
	}
	return nil
}
