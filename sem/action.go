package sem

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkit/shmkit/shm"
)

// A BarrierAction is a function a Barrier runs once per generation, in the last party to
// arrive, before it releases the others: Python's Barrier(parties, action=...). A Go function
// cannot travel between processes, so actions are registered by name at package level, as
// procs registers entries, and the barrier records the name's hash: any process of the same
// binary that is last to arrive finds and runs it.
//
//	var merge = sem.Action("merge", func() error { … })
//	b, err := sem.NewBarrier(3, sem.WithAction(merge))
type BarrierAction struct {
	name string
	key  uint64
	fn   func() error
}

var actions sync.Map // key → *BarrierAction

// Action registers fn under name (call it in a package-level var). It panics if name is empty
// or already registered, or if its hash collides with another's.
func Action(name string, fn func() error) *BarrierAction {
	if name == "" || fn == nil {
		panic("sem: Action needs a name and a function")
	}
	a := &BarrierAction{name: name, key: xxhash.Sum64String(name), fn: fn}
	if a.key == 0 {
		a.key = 1
	}
	if old, dup := actions.LoadOrStore(a.key, a); dup {
		panic(fmt.Sprintf("sem: barrier action %q registered twice (or its hash collides with %q)", name, old.(*BarrierAction).name))
	}
	return a
}

// Name returns the name the action was registered under.
func (a *BarrierAction) Name() string { return a.name }

// run calls the action, turning a panic into an error that carries the stack.
func (a *BarrierAction) run() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n\n%s", p, debug.Stack())
		}
	}()
	return a.fn()
}

type actionKey struct{}
type timeoutKey struct{}

// WithAction gives a Barrier its action (NewBarrier, CreateBarrier, OpenOrCreateBarrier when
// it creates). For a Barrier placed in a segment of your own, use Barrier.SetAction.
func WithAction(a *BarrierAction) shm.Option { return shm.Setting(actionKey{}, a) }

// BarrierTimeout gives a Barrier the timeout its waits use when their context has no deadline
// (Python's Barrier(timeout=...)): a wait that runs out breaks the barrier, as a context that
// ends does. For a placed Barrier, use Barrier.SetTimeout.
func BarrierTimeout(d time.Duration) shm.Option { return shm.Setting(timeoutKey{}, d) }
