// Package remote is the seam between package procs and the cluster module. A cluster worker
// receives a task that names a registered procs.Func and carries its inputs encoded; it knows
// neither the function's types nor, at compile time, the function. procs registers here, for
// every Func, a closure that decodes a chunk of inputs, runs it on a local Pool and encodes the
// outputs, and the way to read a MapOption; the cluster module, inside this repository, looks
// them up. Users never see this package.
package remote

import (
	"context"
	"sync"
)

// A Pool is a *procs.Pool, opaque here: procs imports this package, so it cannot be named.
type Pool any

// A Func runs a registered function over a chunk of inputs, codec-encoded as a slice of its
// input type, on a local pool, and returns the outputs encoded as a slice of its output type.
// Its error is whatever procs.Map returned (a *procs.TaskError indexed within the chunk, a
// panic, a dead worker), or a decoding or encoding error.
type Func func(ctx context.Context, pool Pool, inputs []byte) ([]byte, error)

var (
	mu    sync.RWMutex
	funcs = map[string]Func{}
)

// Register records fn under name; procs.Func calls it once per name.
func Register(name string, fn Func) {
	mu.Lock()
	defer mu.Unlock()
	funcs[name] = fn
}

// Lookup returns the function registered under name.
func Lookup(name string) (Func, bool) {
	mu.RLock()
	defer mu.RUnlock()
	fn, ok := funcs[name]
	return fn, ok
}

// Chunk reads the chunk size a list of procs.MapOption (passed as a []procs.MapOption) sets:
// 0 for automatic. procs sets it in its init.
var Chunk func(opts any) int
