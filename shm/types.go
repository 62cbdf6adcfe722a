package shm

import (
	"fmt"
	"reflect"
	"sync"
)

// Values of interface type (any, or an interface of the program's) travel between processes
// (in an entry's argument, through a typed queue or pipe) as the name of their concrete type
// and its value, as with encoding/gob: the concrete type must be registered under the same
// name in every process of the program, by RegisterType from an init function.

var (
	typesMu sync.RWMutex
	byName  = map[string]reflect.Type{}
	byType  = map[reflect.Type]string{}
)

// RegisterType makes the concrete type of value able to travel inside interface values, under
// the name TypeName gives it. Register from an init function, so every process of the program
// has the same table. It panics if the name is taken by another type, as gob.Register does.
func RegisterType(value any) { RegisterTypeName(TypeName(reflect.TypeOf(value)), value) }

// RegisterTypeName is RegisterType under a name of the caller's choice.
func RegisterTypeName(name string, value any) {
	t := reflect.TypeOf(value)
	if name == "" || t == nil {
		panic("shm: RegisterTypeName with an empty name or a nil value")
	}
	typesMu.Lock()
	defer typesMu.Unlock()
	if old, ok := byName[name]; ok && old != t {
		panic(fmt.Sprintf("shm: type name %q registered for %s and %s", name, old, t))
	}
	byName[name], byType[t] = t, name
}

// TypeName is the name RegisterType gives a type: its package path and name
// ("example.com/app.Point", "*example.com/app.Point"), or its spelling for an unnamed one.
func TypeName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	if t.Kind() == reflect.Pointer && t.Name() == "" {
		return "*" + TypeName(t.Elem())
	}
	return t.String()
}

// RegisteredType returns the type registered under name.
func RegisteredType(name string) (reflect.Type, bool) {
	typesMu.RLock()
	defer typesMu.RUnlock()
	t, ok := byName[name]
	return t, ok
}

// RegisteredName returns the name t was registered under.
func RegisteredName(t reflect.Type) (string, bool) {
	typesMu.RLock()
	defer typesMu.RUnlock()
	n, ok := byType[t]
	return n, ok
}
