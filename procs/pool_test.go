package procs_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
)

var poolSquare = procs.Func("procs.poolSquare", func(ctx context.Context, x int64) (int64, error) { return x * x, nil })

var failOn = procs.Func("procs.failOn", func(ctx context.Context, x int) (string, error) {
	switch x {
	case 13:
		return "", errors.New("thirteen is unlucky")
	case 14:
		panic("fourteen panics")
	}
	return fmt.Sprint(x), nil
})

var slow = procs.Func("procs.slow", func(ctx context.Context, d time.Duration) (int, error) {
	time.Sleep(d)
	return 1, nil
})

type markedSleep struct {
	D    time.Duration
	Mark string // a named Event the task sets once it runs
}

var slowMarked = procs.Func("procs.slowMarked", func(ctx context.Context, a markedSleep) (int, error) {
	e, err := sem.OpenEvent(a.Mark)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	if err := e.Set(); err != nil {
		return 0, err
	}
	time.Sleep(a.D)
	return 1, nil
})

func TestPoolMap(t *testing.T) {
	p, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	if got := fmt.Sprint(p); got != "procs.Pool(state=RUN workers=2 of 2 jobs=0)" {
		t.Errorf("a new pool prints %q", got)
	}
	in := make([]int64, 100_000)
	for i := range in {
		in[i] = int64(i)
	}
	out, err := procs.Map(t.Context(), p, poolSquare, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != int64(i)*int64(i) {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	if v, err := procs.Apply(t.Context(), p, poolSquare, 12); err != nil || v != 144 {
		t.Fatalf("Apply: %v %v", v, err)
	}
	// Several goroutines at once.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			out, err := procs.Map(t.Context(), p, poolSquare, []int64{int64(g), 3}, procs.Chunk(1))
			if err != nil || out[0] != int64(g*g) || out[1] != 9 {
				t.Errorf("goroutine %d: %v %v", g, out, err)
			}
		})
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := procs.Apply(t.Context(), p, poolSquare, 1); !errors.Is(err, procs.ErrPoolClosed) {
		t.Fatalf("Apply after Close: %v", err)
	}
	if got := fmt.Sprint(p); !strings.HasPrefix(got, "procs.Pool(state=CLOSE ") {
		t.Errorf("a closed pool prints %q", got)
	}
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p); got != "procs.Pool(state=TERMINATE workers=0 of 2 jobs=0)" {
		t.Errorf("a terminated pool prints %q", got)
	}
}

func TestPoolErrorsAndPanics(t *testing.T) {
	p, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	_, err = procs.Apply(t.Context(), p, failOn, 13)
	var te *procs.TaskError
	if !errors.As(err, &te) || te.Message != "thirteen is unlucky" {
		t.Fatalf("a returned error: %v", err)
	}
	_, err = procs.Apply(t.Context(), p, failOn, 14)
	if !errors.Is(err, procs.ErrPanic) || !strings.Contains(err.Error(), "fourteen panics") || !strings.Contains(err.Error(), "goroutine") {
		t.Fatalf("a panic: %v", err)
	}
	// The pool keeps working.
	if out, err := procs.Map(t.Context(), p, failOn, []int{1, 2, 3}, procs.Chunk(1)); err != nil || strings.Join(out, ",") != "1,2,3" {
		t.Fatalf("after the failures: %v %v", out, err)
	}
}

// A worker killed in the middle of a task fails that task with a WorkerDiedError (CPython's
// Pool hangs here), is replaced, and the pool goes on; with Retries the task runs again.
func TestPoolWorkerKilledMidTask(t *testing.T) {
	for _, retries := range []int{0, 1} {
		p, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 2, Retries: retries})
		if err != nil {
			t.Fatal(err)
		}
		before := p.Pids()
		mark := testmain.Name(t)
		running, err := sem.CreateEvent(mark)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := procs.Apply(t.Context(), p, slowMarked, markedSleep{D: 2 * time.Second, Mark: mark})
			done <- err
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if err := running.WaitContext(ctx); err != nil { // the task runs: kill in the middle of it
			t.Fatal(err)
		}
		cancel()
		// running stays open until the retry has opened it again: on Windows a section ends
		// with its last handle, and the killed worker's is gone.
		for _, pid := range before {
			_ = testmain.Kill(pid) // the busy one and the idle one
		}
		select {
		case err := <-done:
			var died *procs.WorkerDiedError
			if retries == 0 && (!errors.As(err, &died) || !errors.Is(err, procs.ErrWorkerDied) || died.ExitCode != -9) {
				t.Fatalf("retries 0: %v, want a WorkerDiedError by SIGKILL", err)
			}
			if retries == 1 && err != nil {
				t.Fatalf("retries 1: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the task's caller hangs")
		}
		_ = running.Close()
		if out, err := procs.Map(t.Context(), p, poolSquare, []int64{2, 3, 4}, procs.Chunk(1)); err != nil || out[2] != 16 {
			t.Fatalf("after the kill: %v %v", out, err)
		}
		_ = p.Terminate()
	}
}

func TestPoolBadInput(t *testing.T) {
	if _, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: -1}); err == nil {
		t.Fatal("a pool of -1 workers")
	}
	p, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	if _, err := procs.Map(t.Context(), p, poolSquare, []int64{1}, procs.Chunk(1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := procs.Apply(ctx, p, slow, time.Hour); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("a cancelled task: %v after %v", err, time.Since(start))
	}
	if out, err := procs.Apply(t.Context(), p, poolSquare, 5); err != nil || out != 25 {
		t.Fatalf("after the cancellation: %v %v", out, err)
	}
}

var noop = procs.Func("procs.noop", func(ctx context.Context, x int64) (int64, error) { return x, nil })

// BenchmarkPoolTask: per-task cost of a no-op Func over a pool of two workers, one task per
// chunk and with automatic chunking, beside CPython's Pool.map of a no-op (chunksize 1 and
// 256), timed by python3 in the same run.
func BenchmarkPoolTask(b *testing.B) {
	p, err := procs.NewPool(b.Context(), procs.PoolConfig{Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Terminate()
	// Each Map call takes a batch (10 K inputs at chunk 1, 1 M chunked), so the figure is the
	// steady per-task cost, not that of allocating ever larger slices as b.N grows.
	for _, c := range []struct {
		name         string
		chunk, batch int
	}{{"chunk=1", 1, 10_000}, {"chunk=auto", 0, 1_000_000}} {
		b.Run("impl=shmkit/"+c.name, func(b *testing.B) {
			in := make([]int64, c.batch)
			tasks := 0
			for b.Loop() {
				if _, err := procs.Map(b.Context(), p, noop, in, procs.Chunk(c.chunk)); err != nil {
					b.Fatal(err)
				}
				tasks += c.batch
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(tasks), "ns/task")
		})
	}
	b.Run("impl=cpython-pool", func(b *testing.B) {
		py, err := exec.LookPath("python3")
		if err != nil {
			b.Skip("python3 not installed")
		}
		out, err := exec.Command(py, "-c", `
import multiprocessing as mp, time
def noop(x): return x
if __name__ == "__main__":
    with mp.Pool(2) as p:
        p.map(noop, range(1000))
        n = 20000
        t = time.perf_counter(); p.map(noop, range(n), chunksize=1); one = (time.perf_counter() - t) / n
        n = 400000
        t = time.perf_counter(); p.map(noop, range(n), chunksize=256); many = (time.perf_counter() - t) / n
        print(one * 1e9, many * 1e9)
`).Output()
		if err != nil {
			b.Skip(err)
		}
		var one, many float64
		fmt.Sscan(string(out), &one, &many)
		for range b.N {
		}
		b.ReportMetric(one, "ns/task-chunk1")
		b.ReportMetric(many, "ns/task-chunk256")
	})
}
