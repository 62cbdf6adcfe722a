package sem_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

type tallyArgs struct {
	Lock  *sem.Mutex   // arrives as a pointer into the child's mapping
	Seg   *shm.Segment // the tally lives at offset 8
	Times int
}

var tally = procs.Entry("example.tally", func(ctx context.Context, a tallyArgs) error {
	for range a.Times {
		if err := a.Lock.Lock(); err != nil {
			return err
		}
		a.Seg.Bytes()[8]++
		if err := a.Lock.Unlock(); err != nil {
			return err
		}
	}
	return nil
})

// A Mutex placed in a segment, shared with two child processes.
func ExampleMutex() {
	seg, err := shm.Anonymous(64)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seg.Close()
	mu, err := sem.At[sem.Mutex](seg.Bytes(), 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	a, _ := tally.Start(ctx, tallyArgs{Lock: mu, Seg: seg, Times: 100})
	b, _ := tally.Start(ctx, tallyArgs{Lock: mu, Seg: seg, Times: 100})
	if err := errors.Join(a.WaitContext(ctx), b.WaitContext(ctx)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(seg.Bytes()[8])
	// Output: 200
}

// A named semaphore: any process that opens the name gets the same permits.
func ExampleCreateSemaphore() {
	name := fmt.Sprintf("example-sem-%d", os.Getpid())
	s, err := sem.CreateSemaphore(name, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Unlink() // after Close: unlinking is by name
	defer s.Close()

	fmt.Println(s.TryAcquire(), s.TryAcquire(), s.TryAcquire())
	_ = s.Release()
	fmt.Println(s.Value())
	// Output:
	// true true false
	// 1
}

// A Mutex whose owner died: the next locker repairs and marks it consistent.
func ExampleMutex_Consistent() {
	var m sem.Mutex // normally in a segment; the zero value is unlocked
	if err := m.Lock(); errors.Is(err, sem.ErrOwnerDead) {
		// repair the data the lock protects, then:
		_ = m.Consistent()
	}
	fmt.Println(m.Locked(), m.Unlock(), m.Locked())
	// Output: true <nil> false
}

// Python's Lock(): one call makes an anonymous Mutex that children receive in their argument.
func ExampleNewMutex() {
	mu, err := sem.NewMutex()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mu.Close() // this process detaches; the Mutex lives while another process has it

	_ = mu.Lock()
	fmt.Println(mu.Locked())
	_ = mu.Unlock()
	fmt.Println(mu.Locked(), mu.Close(), mu.Lock() != nil)
	// Output:
	// true
	// false <nil> true
}

// report is a barrier action: registered by name at package level, so that whichever process
// arrives last can find it.
var report = sem.Action("example.report", func() error {
	fmt.Println("all arrived; releasing")
	return nil
})

// A Barrier with an action (Python's Barrier(2, action=report)): the last party to arrive
// runs it once, before any party is released.
func ExampleAction() {
	b, err := sem.NewBarrier(2, sem.WithAction(report), sem.BarrierTimeout(10*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := b.Wait(); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()
	// Output: all arrived; releasing
}

// WaitFor is Python's Condition.wait_for: the predicate is checked under the lock. (The state
// it reads would live in shared memory, where other processes write it; here it is an atomic,
// since the race detector does not see a lock in shared memory as synchronisation.)
func ExampleCond_WaitFor() {
	m, _ := sem.NewMutex()
	c, _ := sem.NewCond()
	defer m.Close()
	defer c.Close()
	var ready atomic.Bool
	go func() {
		_ = m.Lock()
		ready.Store(true)
		_ = c.Signal()
		_ = m.Unlock()
	}()
	_ = m.Lock()
	ok, err := c.WaitFor(context.Background(), m.Mutex(), ready.Load)
	_ = m.Unlock()
	fmt.Println(ok, err)
	// Output: true <nil>
}
