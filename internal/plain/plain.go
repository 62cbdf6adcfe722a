// Package plain tells whether a Go type can live in shared memory as raw bytes: fixed size and
// free of pointers, so copying its bytes copies its value and no process can follow an
// address into another's heap.
package plain

import (
	"fmt"
	"reflect"
)

// Check returns nil if t is numbers, bools, and arrays and structs of them, and otherwise an
// error naming the first part that is not.
func Check(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Array:
		if err := Check(t.Elem()); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		return nil
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if err := Check(t.Field(i).Type); err != nil {
				return fmt.Errorf("%s.%s: %w", t, t.Field(i).Name, err)
			}
		}
		return nil
	}
	return fmt.Errorf("%s is a %s, which holds a pointer or has no fixed size", t, t.Kind())
}
