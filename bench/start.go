package bench

import (
	"context"
	"errors"
	"time"

	"github.com/shmkit/shmkit/sem"
)

// A startLine holds the processes of a timed scenario until every one is up: each child says
// so and waits for the start (arrive); the parent waits for all of them, then starts its clock
// and them (release). A fixed sleep before the clock is not enough: beside two busy
// processes on a 2-vCPU AMD EPYC guest, a child took 8 to 37 ms to start, and its start-up
// fell inside the timed run.
type startLine struct {
	Ready *sem.SharedSemaphore // a release per child that is up
	Go    *sem.SharedEvent
}

func newStartLine() (startLine, error) {
	ready, err := sem.NewSemaphore(0)
	if err != nil {
		return startLine{}, err
	}
	start, err := sem.NewEvent()
	if err != nil {
		_ = ready.Close()
		return startLine{}, err
	}
	return startLine{Ready: ready, Go: start}, nil
}

func (l startLine) close() error { return errors.Join(l.Ready.Close(), l.Go.Close()) }

// arrive is a child's part: it is up, and waits for the start.
func (l startLine) arrive(ctx context.Context) error {
	if err := l.Ready.Release(); err != nil {
		return err
	}
	return l.Go.WaitContext(ctx)
}

// release is the parent's part: it waits until n children have arrived, then starts them,
// and returns the time it did.
func (l startLine) release(ctx context.Context, n int) (time.Time, error) {
	for range n {
		if err := l.Ready.AcquireContext(ctx); err != nil {
			return time.Time{}, err
		}
	}
	t := time.Now()
	return t, l.Go.Set()
}
