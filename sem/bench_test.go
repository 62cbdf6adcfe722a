package sem_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// Every shmkit figure stands beside its baselines from the same run; the CPython ones are
// measured by python3 itself, in the same benchmark, and reported as custom metrics.

func BenchmarkMutexUncontended(b *testing.B) {
	b.Run("impl=shmkit", func(b *testing.B) {
		seg := newSegment(b, 64)
		m := at[sem.Mutex](b, seg, 0)
		for b.Loop() {
			_ = m.Lock()
			_ = m.Unlock()
		}
	})
	b.Run("impl=sync.Mutex", func(b *testing.B) {
		var m sync.Mutex
		for b.Loop() {
			m.Lock()
			m.Unlock()
		}
	})
	b.Run("impl=two-atomic-CAS", func(b *testing.B) { // the floor: any lock pays an acquire and a release
		var w uint32
		for b.Loop() {
			atomic.CompareAndSwapUint32(&w, 0, 1)
			atomic.CompareAndSwapUint32(&w, 1, 0)
		}
	})
	b.Run("impl=python-multiprocessing", func(b *testing.B) {
		ns := python(b, `
import multiprocessing as mp, timeit
l = mp.Lock()
n = 2000000
print(timeit.timeit("a(); r()", globals={"a": l.acquire, "r": l.release}, number=n) / n * 1e9)
`)
		b.ReportMetric(ns[0], "ns/op")
	})
}

// python runs a script that times itself and prints numbers, or skips the benchmark without
// python3. The script runs once whatever b.N is; callers report its figure as ns/op.
func python(b *testing.B, script string) []float64 {
	b.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not installed")
	}
	out, err := exec.Command(py, "-c", script).Output()
	if err != nil {
		b.Fatal(err)
	}
	var v []float64
	for _, f := range strings.Fields(string(out)) {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			b.Fatalf("python printed %q", out)
		}
		v = append(v, x)
	}
	return v
}

type pongArgs struct {
	Seg    *shm.Segment
	Ping   *sem.Semaphore
	Pong   *sem.Semaphore
	Rounds int
	Raw    bool
}

// Raw ping-pong words live at 64 (ping) and 128 (pong), each on its own line.
func rawWords(seg *shm.Segment) (ping, pong *uint32) { return word(seg, 64), word(seg, 128) }

// pong answers Rounds pings: through the semaphores, or with bare futex wait and wake.
var pong = procs.Entry("sem.pong", func(ctx context.Context, a pongArgs) error {
	ping, pongW := rawWords(a.Seg)
	for i := 1; i <= a.Rounds; i++ {
		if a.Raw {
			awaitValue(ping, uint32(i))
			atomic.StoreUint32(pongW, uint32(i))
			futex.Wake(pongW, 1)
			continue
		}
		if err := a.Ping.Acquire(); err != nil {
			return err
		}
		if err := a.Pong.Release(); err != nil {
			return err
		}
	}
	return nil
})

// awaitValue sleeps on w until it holds want: a futex wait per change, no spinning.
func awaitValue(w *uint32, want uint32) {
	for v := atomic.LoadUint32(w); v != want; v = atomic.LoadUint32(w) {
		_ = futex.Wait(w, v, time.Time{})
	}
}

// BenchmarkPingPong is a round trip between two processes: ns/op is one round trip.
// raw-futex stores a word, wakes, and sleeps on the answer (the floor for a sleeping hand-off);
// shmkit-semaphore releases one semaphore and acquires another (spinning briefly first).
func BenchmarkPingPong(b *testing.B) {
	for _, raw := range []bool{true, false} {
		name := "impl=shmkit-semaphore"
		if raw {
			name = "impl=raw-futex"
		}
		b.Run(name, func(b *testing.B) {
			seg := newSegment(b, 4096)
			a := pongArgs{Seg: seg, Ping: at[sem.Semaphore](b, seg, 0), Pong: at[sem.Semaphore](b, seg, 8), Raw: raw}
			rounds := 0
			for range b.N {
				rounds++
			}
			a.Rounds = rounds
			p, err := pong.Start(b.Context(), a)
			if err != nil {
				b.Fatal(err)
			}
			ping, pongW := rawWords(seg)
			warm(a, ping, pongW, 0) // first round includes the child's start: not timed
			b.ResetTimer()
			for i := 2; i <= rounds; i++ {
				warm(a, ping, pongW, i)
			}
			b.StopTimer()
			if err := p.WaitContext(b.Context()); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("impl=python-multiprocessing", func(b *testing.B) {
		us := python(b, `
import multiprocessing as mp, time
def pong(a, c, n):
    for _ in range(n):
        a.acquire(); c.release()
if __name__ == "__main__":
    n = 20000
    a, c = mp.Semaphore(0), mp.Semaphore(0)
    p = mp.get_context("fork").Process(target=pong, args=(a, c, n + 1)); p.start()
    a.release(); c.acquire()
    t = time.perf_counter()
    for _ in range(n):
        a.release(); c.acquire()
    print((time.perf_counter() - t) / n * 1e9)
    p.join()
`)
		b.ReportMetric(us[0], "ns/op")
	})
}

// warm does round i (i == 0 stands for round 1).
func warm(a pongArgs, ping, pongW *uint32, i int) {
	if i == 0 {
		i = 1
	}
	if a.Raw {
		atomic.StoreUint32(ping, uint32(i))
		futex.Wake(ping, 1)
		awaitValue(pongW, uint32(i))
		return
	}
	_ = a.Ping.Release()
	_ = a.Pong.Acquire()
}

type contendArgs struct {
	Lock  *sem.Mutex
	Start *sem.Event
	Ops   int
}

// contend locks and unlocks Ops times once Start is set.
var contend = procs.Entry("sem.contend", func(ctx context.Context, a contendArgs) error {
	if err := a.Start.WaitContext(ctx); err != nil {
		return err
	}
	for range a.Ops {
		if err := a.Lock.Lock(); err != nil {
			return err
		}
		if err := a.Lock.Unlock(); err != nil {
			return err
		}
	}
	return nil
})

// BenchmarkMutexContended: two processes lock and unlock one Mutex as fast as they can; the
// baseline is two goroutines on one sync.Mutex. ns/op is per Lock+Unlock, over both.
func BenchmarkMutexContended(b *testing.B) {
	b.Run("impl=shmkit-2-processes", func(b *testing.B) {
		seg := newSegment(b, 64)
		m, start := at[sem.Mutex](b, seg, 0), at[sem.Event](b, seg, 8)
		half := b.N / 2
		p, err := contend.Start(b.Context(), contendArgs{Lock: m, Start: start, Ops: b.N - half})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		_ = start.Set()
		for range half {
			_ = m.Lock()
			_ = m.Unlock()
		}
		if err := p.WaitContext(b.Context()); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("impl=sync.Mutex-2-goroutines", func(b *testing.B) {
		var m sync.Mutex
		var wg sync.WaitGroup
		for _, n := range []int{b.N / 2, b.N - b.N/2} {
			wg.Go(func() {
				for range n {
					m.Lock()
					m.Unlock()
				}
			})
		}
		wg.Wait()
	})
}
