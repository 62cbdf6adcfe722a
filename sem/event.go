package sem

import (
	"context"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/futex"
)

// An Event is a flag processes wait on: Python's multiprocessing.Event. The zero value is
// clear.
//
//	0            4            8
//	+------------+------------+
//	| flag       | sleeping   |
//	+------------+------------+
//
// sleeping is 1 while a waiter may sleep: each sets it before its last look at the flag, and
// Set swaps it to 0 and wakes every sleeper (they set it again if they sleep again). A flag,
// not a count, so a waiter killed in its sleep costs the next Set one wasted wake, no more.
type Event struct {
	flag     uint32 // 0 clear, 1 set; sleepers park on it
	sleeping uint32
}

// Set sets the flag and wakes every waiter.
func (e *Event) Set() error {
	if atomic.SwapUint32(&e.flag, 1) == 0 && atomic.LoadUint32(&e.sleeping) != 0 && atomic.SwapUint32(&e.sleeping, 0) != 0 {
		futex.Wake(&e.flag, -1)
	}
	return nil
}

// Clear clears the flag.
func (e *Event) Clear() error {
	atomic.StoreUint32(&e.flag, 0)
	return nil
}

// IsSet reports whether the flag is set.
func (e *Event) IsSet() bool { return atomic.LoadUint32(&e.flag) == 1 }

// Wait returns once the flag is set.
func (e *Event) Wait() error { return e.WaitContext(context.Background()) }

// WaitContext is Wait that gives up with ctx's error when ctx ends.
func (e *Event) WaitContext(ctx context.Context) error {
	if e.IsSet() || futex.Spin(e.IsSet) {
		return nil
	}
	for {
		atomic.StoreUint32(&e.sleeping, 1) // before the last look, so Set's swap sees it
		if e.IsSet() {
			return nil
		}
		if err := futex.Park(ctx, &e.flag, 0, futex.CheckSlice); err != nil {
			return err
		}
	}
}
