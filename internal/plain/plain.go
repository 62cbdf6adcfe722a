// Package plain tells whether a Go type can live in shared memory as raw bytes: fixed size and
// free of pointers, so copying its bytes copies its value and no process can follow an
// address into another's heap; and the same size on every architecture, so two builds agree
// on the layout. It also names such a type canonically, for layout fingerprints.
package plain

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Check returns nil if t is fixed-width numbers, bools, and arrays and structs of them, and
// otherwise an error naming the path to the first part that is not ("Particle.Tags: slice").
func Check(t reflect.Type) error {
	_, err := Describe(t)
	return err
}

// Describe returns t's canonical layout, such as "struct{X float64@0;Tag [4]uint8@8}@16": the
// kinds, sizes and offsets that decide how its bytes are read, not its names, so two builds
// that agree on the bytes agree on the descriptor. It fails as Check does.
func Describe(t reflect.Type) (string, error) {
	var b strings.Builder
	if err := describe(&b, t, t.Name()); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Hash is the xxhash64 of t's descriptor: what a layout fingerprint records of an element type.
func Hash(t reflect.Type) (uint64, error) {
	d, err := Describe(t)
	if err != nil {
		return 0, err
	}
	return xxhash.Sum64String(d), nil
}

func describe(b *strings.Builder, t reflect.Type, path string) error {
	if path == "" {
		path = t.String()
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		b.WriteString(t.Kind().String())
		return nil
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		return fmt.Errorf("%s: %s, whose size depends on the architecture (use %s64 or %s32)",
			path, t.Kind(), strings.TrimSuffix(t.Kind().String(), "ptr"), strings.TrimSuffix(t.Kind().String(), "ptr"))
	case reflect.Array:
		b.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		return describe(b, t.Elem(), path+"[]")
	case reflect.Struct:
		b.WriteString("struct{")
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if i > 0 {
				b.WriteByte(';')
			}
			if err := describe(b, f.Type, path+"."+f.Name); err != nil {
				return err
			}
			b.WriteString("@" + strconv.FormatUint(uint64(f.Offset), 10))
		}
		b.WriteString("}@" + strconv.FormatUint(uint64(t.Size()), 10))
		return nil
	}
	return fmt.Errorf("%s: %s, which holds a pointer or has no fixed size", path, t.Kind())
}
