package testmain

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BlockedCheaply runs wait with a context that ends after d/10, then with one that ends after
// d, and fails unless wait gave up with context.DeadlineExceeded both times, the second having
// used at most a tenth of its time in CPU (the whole process's: run it in a child with nothing
// else to do), give or take what the CPU clock cannot resolve. It is how a test tells a sleep
// from a spin.
func BlockedCheaply(ctx context.Context, name string, d time.Duration, wait func(context.Context) error) error {
	// A first, shorter wait goes uncounted: it pays what a process's first wait pays once (under
	// wine, 10-20 ms of CPU clock where later waits read 0-10), not what staying blocked costs.
	warm, cancelWarm := context.WithTimeout(ctx, d/10)
	err := wait(warm)
	cancelWarm()
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %v, want %v", name, err, context.DeadlineExceeded)
	}
	before := cpuTime()
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	err = wait(wctx)
	wall, cpu := time.Since(start), cpuTime()-before
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %v, want %v", name, err, context.DeadlineExceeded)
	}
	if cpu > wall/10+cpuResolution {
		return fmt.Errorf("%s: blocked %v but used %v of CPU", name, wall, cpu)
	}
	return nil
}
