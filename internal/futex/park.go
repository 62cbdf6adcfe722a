package futex

import (
	"context"
	"errors"
	"runtime"
	"time"
)

// Every blocking call in shmkit comes down to: spin briefly re-checking its condition, then
// park on a 32-bit word in shared memory until another process changes it and wakes the word.

const (
	spinTries = 100
	// cancelSlice bounds a sleep that only a context can end: a cancellation that lands just
	// before the sleep starts would otherwise go unnoticed.
	cancelSlice = 100 * time.Millisecond
	// CheckSlice bounds a sleep on something whose other side can die without waking anyone
	// (a lock holder, a barrier party, a ring's peer): every slice the sleeper checks that it
	// lives.
	CheckSlice = 50 * time.Millisecond
)

// Spin re-checks ready a few times, yielding the processor between tries, before a caller
// pays for a sleep. It reports whether ready became true.
func Spin(ready func() bool) bool {
	for i := 0; i < spinTries; i++ {
		if ready() {
			return true
		}
		if i%4 == 3 {
			runtime.Gosched()
		}
	}
	return false
}

// Park sleeps while *addr == val, until it is woken, ctx ends, or slice passes (0: no limit).
// It returns ctx's error once ctx is done and nil otherwise; the caller re-checks its condition.
// A cancellable ctx wakes every sleeper on addr when it ends (they re-check and sleep again),
// and its sleeps are cut into 100 ms slices so a cancellation that lands just before the sleep
// is still seen.
func Park(ctx context.Context, addr *uint32, val uint32, slice time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx.Done() != nil && (slice == 0 || slice > cancelSlice) {
		slice = cancelSlice
	}
	var deadline time.Time
	ctxDeadline, hasDeadline := ctx.Deadline()
	if slice > 0 {
		deadline = time.Now().Add(slice)
	}
	if hasDeadline && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		deadline = ctxDeadline
	}
	var stop func() bool
	if ctx.Done() != nil {
		// Wake every sleeper on the word when ctx ends: the others re-check and sleep again.
		stop = context.AfterFunc(ctx, func() { Wake(addr, -1) })
	}
	err := Wait(addr, val, deadline)
	if stop != nil {
		stop()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, ErrTimeout) && hasDeadline && !time.Now().Before(ctxDeadline) {
		return context.DeadlineExceeded // ctx's own timer has not fired yet
	}
	if err != nil && !errors.Is(err, ErrTimeout) {
		return err
	}
	return nil
}
