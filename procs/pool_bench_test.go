package procs_test

import (
	"context"
	"io"
	"math"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/internal/work"
	"github.com/shmkit/shmkit/procs"
)

func p50(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2]) / 1e6
}

// BenchmarkPoolStart: a pool of CPUCount() workers, from NewPool to every worker ready (no
// warm spares), beside one exec start+join of this same binary (exec-noop in
// BenchmarkStartJoin) and CPUCount() of them at once, interleaved. pool-vs-exec is the ratio of
// the medians (goal ≤ 1.5). exec-started-all-cpus is the floor under any pool of exec'd
// workers: CPUCount() execs of this binary at once, timed until each has reached its TestMain
// (a byte on its standard output), not to its exit. pool-ready-warm is the same pool made
// while WarmSpares keeps CPUCount() spares up.
func BenchmarkPoolStart(b *testing.B) {
	var pool, warm, floor, all, started []time.Duration
	for b.Loop() {
		started = append(started, startAll(b, procs.CPUCount()))
		t := time.Now()
		if err := testmain.Self("1").Run(); err != nil {
			b.Fatal(err)
		}
		floor = append(floor, time.Since(t))
		// CPUCount() such execs at once: what the machine allows a pool's start.
		t = time.Now()
		cmds := make([]*exec.Cmd, procs.CPUCount())
		for i := range cmds {
			cmds[i] = testmain.Self("1")
			if err := cmds[i].Start(); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range cmds {
			_ = c.Wait()
		}
		all = append(all, time.Since(t))
		t = time.Now()
		p, err := procs.NewPool(b.Context(), procs.PoolConfig{Spares: -1})
		if err != nil {
			b.Fatal(err)
		}
		pool = append(pool, time.Since(t))
		_ = p.Terminate()
		// The same, its workers taken from warm spares (WarmSpares), given time to be up.
		if err := procs.WarmSpares(procs.CPUCount()); err != nil {
			b.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		t = time.Now()
		p, err = procs.NewPool(b.Context(), procs.PoolConfig{Spares: -1})
		if err != nil {
			b.Fatal(err)
		}
		warm = append(warm, time.Since(t))
		_ = p.Terminate()
		_ = procs.WarmSpares(0)
	}
	b.ReportMetric(p50(warm), "pool-ready-warm-ms-p50")
	e, q := p50(floor), p50(pool)
	b.ReportMetric(e, "exec-noop-ms-p50")
	b.ReportMetric(q, "pool-ready-ms-p50")
	b.ReportMetric(q/e, "pool-vs-exec")
	b.ReportMetric(p50(all), "exec-noop-all-cpus-ms-p50")
	b.ReportMetric(p50(started), "exec-started-all-cpus-ms-p50")
	b.ReportMetric(q/p50(started), "pool-vs-started")
	b.ReportMetric(float64(procs.CPUCount()), "workers")
}

// startAll execs n children of this binary at once and returns how long it took until each
// had reached its TestMain; it then reaps them (not timed).
func startAll(b *testing.B, n int) time.Duration {
	cmds := make([]*exec.Cmd, n)
	outs := make([]io.Reader, n)
	t := time.Now()
	for i := range cmds {
		cmds[i] = testmain.Self("started")
		out, err := cmds[i].StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		outs[i] = out
		if err := cmds[i].Start(); err != nil {
			b.Fatal(err)
		}
	}
	var one [1]byte
	for _, out := range outs {
		if _, err := io.ReadFull(out, one[:]); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(t)
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

var hang = procs.Func("procs.hang", func(ctx context.Context, _ int32) (int32, error) {
	time.Sleep(time.Hour)
	return 0, nil
})

// BenchmarkPoolRecovery: a one-worker pool's worker is SIGKILLed in the middle of a task.
// kill-to-error is the time until the task's caller has its ErrWorkerDied; kill-to-served the
// time until the next task has run on the replacement. With the pool's warm spare (the
// default) and without (Spares: -1), interleaved.
func BenchmarkPoolRecovery(b *testing.B) {
	pools := map[string]*procs.Pool{}
	for _, c := range []struct {
		name   string
		spares int
	}{{"spare", 1}, {"exec", -1}} {
		p, err := procs.NewPool(b.Context(), procs.PoolConfig{Workers: 1, Spares: c.spares})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Terminate()
		pools[c.name] = p
	}
	d := map[string][]time.Duration{}
	for b.Loop() {
		for _, name := range []string{"spare", "exec"} {
			p := pools[name]
			f := procs.ApplyAsync(b.Context(), p, hang, 0)
			time.Sleep(20 * time.Millisecond) // let the task start, and the spare be up
			pid := p.Pids()[0]
			t := time.Now()
			_ = testmain.Kill(pid)
			if _, err := f.Get(b.Context()); err == nil {
				b.Fatal("the task survived its worker")
			}
			d[name+"-kill-to-error"] = append(d[name+"-kill-to-error"], time.Since(t))
			if _, err := procs.Apply(b.Context(), p, poolSquare, 2); err != nil {
				b.Fatal(err)
			}
			d[name+"-kill-to-served"] = append(d[name+"-kill-to-served"], time.Since(t))
		}
	}
	for k, v := range d {
		b.ReportMetric(p50(v), k+"-ms-p50")
	}
}

type primeRange struct{ Lo, Hi int64 }

var primesIn = procs.Func("procs.primesIn", func(ctx context.Context, r primeRange) (int64, error) { return work.CountPrimes(r.Lo, r.Hi), nil })

type kernelArgs struct {
	X     *ctypes.RawArray[float64]
	Steps int64
}

// kernel is a compute-bound kernel applied in place to X[lo:hi].
func kernel(xs []float64, steps int64) {
	for i := range xs {
		v := xs[i]
		for range steps {
			v = math.Sqrt(v*v+1) * 0.5
		}
		xs[i] = v
	}
}

var kernelSpan = procs.Func("procs.kernelSpan", func(ctx context.Context, s procs.Span[kernelArgs]) (struct{}, error) {
	kernel(s.Arg.X.Slice()[s.Lo:s.Hi], s.Arg.Steps)
	return struct{}{}, nil
})

// BenchmarkPoolSpeedup: CPU-bound work on a pool of CPUCount() workers beside the same Go code
// run serially in this process, interleaved. primes: the primes below 3 M in 64 chunks.
// forrange: a compute-bound kernel over a shared RawArray[float64] of 1 M, in place, with
// ForRange. speedup is serial time over pool time (goal ≥ 1.9 on 2 cores);
// goroutines-speedup is the same work split over CPUCount() goroutines of this process, the
// ceiling the machine allows.
func BenchmarkPoolSpeedup(b *testing.B) {
	p, err := procs.NewPool(b.Context(), procs.PoolConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Terminate()
	const limit, chunks = 3_000_000, 64
	ranges := make([]primeRange, chunks)
	for i := range ranges {
		ranges[i] = primeRange{int64(i) * limit / chunks, int64(i+1) * limit / chunks}
	}
	const n, steps = 1 << 20, 40
	arr, err := ctypes.NewRawArray[float64](n)
	if err != nil {
		b.Fatal(err)
	}
	defer arr.Close()
	b.Run("work=primes", func(b *testing.B) {
		var serial, pooled, goroutines []time.Duration
		round := 0
		for b.Loop() {
			t := time.Now()
			var want int64
			for _, r := range ranges {
				want += work.CountPrimes(r.Lo, r.Hi)
			}
			serial = append(serial, time.Since(t))
			var par atomic.Int64
			var got []int64
			runs := []func(){
				func() {
					t := time.Now()
					var wg sync.WaitGroup
					next := atomic.Int64{}
					for range procs.CPUCount() {
						wg.Go(func() {
							for i := next.Add(1) - 1; i < chunks; i = next.Add(1) - 1 {
								par.Add(work.CountPrimes(ranges[i].Lo, ranges[i].Hi))
							}
						})
					}
					wg.Wait()
					goroutines = append(goroutines, time.Since(t))
				},
				func() {
					t := time.Now()
					var err error
					if got, err = procs.Map(b.Context(), p, primesIn, ranges, procs.Chunk(1)); err != nil {
						b.Fatal(err)
					}
					pooled = append(pooled, time.Since(t))
				},
			}
			if round++; round%2 == 0 { // alternate which parallel run goes first
				runs[0], runs[1] = runs[1], runs[0]
			}
			runs[0]()
			runs[1]()
			var sum int64
			for _, c := range got {
				sum += c
			}
			if sum != want || want != 216816 || par.Load() != want {
				b.Fatalf("%d primes from the pool, %d serially (want 216816)", sum, want)
			}
		}
		b.ReportMetric(p50(serial), "serial-ms-p50")
		b.ReportMetric(p50(pooled), "pool-ms-p50")
		b.ReportMetric(p50(goroutines), "goroutines-ms-p50")
		b.ReportMetric(p50(serial)/p50(pooled), "speedup")
		b.ReportMetric(p50(serial)/p50(goroutines), "goroutines-speedup")
	})
	b.Run("work=forrange", func(b *testing.B) {
		var serial, pooled, goroutines []time.Duration
		xs := arr.Slice()
		reset := func() {
			for i := range xs {
				xs[i] = float64(i)
			}
		}
		round := 0
		for b.Loop() {
			reset()
			t := time.Now()
			kernel(xs, steps)
			serial = append(serial, time.Since(t))
			want := xs[n-1]
			// The two parallel runs alternate which goes first: the one that follows the other
			// finds the caches and clocks as the other left them.
			runs := []func(){
				func() {
					reset()
					t := time.Now()
					var wg sync.WaitGroup
					per := (n + procs.CPUCount() - 1) / procs.CPUCount()
					for lo := 0; lo < n; lo += per {
						wg.Go(func() { kernel(xs[lo:min(lo+per, n)], steps) })
					}
					wg.Wait()
					goroutines = append(goroutines, time.Since(t))
				},
				func() {
					reset()
					t := time.Now()
					if err := procs.ForRange(b.Context(), p, kernelSpan, n, kernelArgs{X: arr, Steps: steps}); err != nil {
						b.Fatal(err)
					}
					pooled = append(pooled, time.Since(t))
					if xs[n-1] != want {
						b.Fatalf("the pool computed %v, serially %v", xs[n-1], want)
					}
				},
			}
			if round++; round%2 == 0 {
				runs[0], runs[1] = runs[1], runs[0]
			}
			runs[0]()
			runs[1]()
		}
		b.ReportMetric(p50(serial), "serial-ms-p50")
		b.ReportMetric(p50(pooled), "pool-ms-p50")
		b.ReportMetric(p50(goroutines), "goroutines-ms-p50")
		b.ReportMetric(p50(serial)/p50(pooled), "speedup")
		b.ReportMetric(p50(serial)/p50(goroutines), "goroutines-speedup")
	})
}
