package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shmkit/shmkit/internal/work"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

func init() {
	groups = append(groups, poolScenarios)
	// floor_exec_start_join execs this binary with noopEnv: it exits before main.
	if os.Getenv(noopEnv) == "1" {
		os.Exit(0)
	}
}

const noopEnv = "SHMKIT_BENCH_NOOP"

var noopTask = procs.Func("bench.noop", func(ctx context.Context, x int64) (int64, error) { return x, nil })

var hangTask = procs.Func("bench.hang", func(ctx context.Context, _ int32) (int32, error) {
	time.Sleep(time.Hour)
	return 0, nil
})

type primeRange struct{ Lo, Hi int64 }

var primesIn = procs.Func("bench.primesIn", func(ctx context.Context, r primeRange) (int64, error) {
	return work.CountPrimes(r.Lo, r.Hi), nil
})

// touchArgs is the argument of the start+join entry: a segment it writes to, as a real child
// would.
type touchArgs struct {
	Seg *shm.Segment
	V   byte
}

var touch = procs.Entry("bench.touch", func(ctx context.Context, a touchArgs) error {
	a.Seg.Bytes()[0] = a.V
	return nil
})

func poolScenarios() []Scenario {
	return []Scenario{
		{Name: "pool_task_chunk1", Unit: "ns/task", Goal: "≤ 1.5 µs and ≤ 1/20 of CPython",
			Note: "a no-op function mapped over 10 K inputs one per task, on 2 workers; CPython: Pool(2).map(chunksize=1) over 20 K",
			Impls: []Impl{
				{Shmkit, func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
					return poolTask(ctx, 1, o.scale(10_000))
				}},
				pyRate(20_000, "pool_task", "1"),
			}},
		{Name: "pool_task_auto", Unit: "ns/task", Goal: "≤ 50 ns",
			Note: "a no-op function mapped over 1 M inputs, chunks automatic (shmkit: 4 per worker) or CPython's chunksize=256, on 2 workers",
			Impls: []Impl{
				{Shmkit, func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
					return poolTask(ctx, 0, o.scale(1_000_000))
				}},
				pyRate(1_000_000, "pool_task", "256"),
			}},
		{Name: "pool_worker_killed_recovery", Unit: "µs", Goal: "a few ms: the kernel's teardown of the dead worker and a warm spare's hand-off",
			Note: "a one-worker pool's worker is SIGKILLed mid-task; the sample runs from the kill to the next task's result from the replacement. CPython's Pool hangs in this case (bpo-22393): no figure",
			Impls: []Impl{
				{Shmkit, func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
					return 0, recovery(ctx, o.scale(20), h)
				}},
				{CPython, func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
					return 0, skip("CPython's Pool never returns when a worker is killed mid-task (bpo-22393)")
				}},
			}},
		{Name: "process_start_join", Unit: "µs", Goal: "near floor_exec_start_join",
			Note: "start a child that writes a byte into a segment it was given, and join it; CPython: Process(target=f) with the default start method",
			Impls: []Impl{
				{Shmkit, func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
					return 0, startJoin(ctx, false, o.scale(50), h)
				}},
				{CPython, func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
					return 0, pythonStartJoin(ctx, o.scale(50), "", h)
				}},
			}},
		{Name: "process_start_join_warm", Unit: "µs", Goal: "≤ 0.25x floor_exec_start_join",
			Note: "the same, the child a warm spare (procs.WarmSpares); CPython: the forkserver start method. Between samples the spare's replacement is let start, untimed",
			Impls: []Impl{
				{Shmkit, func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
					return 0, startJoin(ctx, true, o.scale(50), h)
				}},
				{CPython, func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
					return 0, pythonStartJoin(ctx, o.scale(50), "forkserver", h)
				}},
			}},
		{Name: "floor_exec_start_join", Unit: "µs", Goal: "the floor: exec this binary, which exits at once, and reap it",
			Impls: []Impl{{Floor, func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
				return 0, execFloor(ctx, o.scale(50), h)
			}}}},
		{Name: "pool_primes_speedup", Unit: "x", Higher: true, Goal: "≥ 1.9x on 2 cores",
			Note: "count the primes below 3 M in 64 chunks on a pool of CPUCount() workers, over the same code run serially; CPython: below 300 K (3 M takes minutes in CPython), Pool(2) over serial CPython",
			Impls: []Impl{
				{Shmkit, func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
					return primesSpeedup(ctx, int64(o.scale(3_000_000)))
				}},
				{CPython, func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
					return python(ctx, "primes_speedup", itoa(o.scale(300_000)), "64")
				}},
			}},
	}
}

// poolTask times a Map of a no-op over n inputs, after untimed Maps of the same: the
// per-task cost of a pool in use. The pool keeps no warm spare, whose start would share the
// cores with the measurement.
func poolTask(ctx context.Context, chunk, n int) (float64, error) {
	p, err := procs.NewPool(ctx, procs.PoolConfig{Workers: 2, Spares: -1})
	if err != nil {
		return 0, err
	}
	defer p.Terminate()
	in := make([]int64, n)
	for i := range in {
		in[i] = int64(i)
	}
	// Warm for at least 300 ms: the workers' runtimes start, and the rings' spin budgets (which
	// adapt to how soon a peer answers) settle, as they have in a pool that has been working.
	for warm := time.Now(); time.Since(warm) < 300*time.Millisecond; {
		if _, err := procs.Map(ctx, p, noopTask, in, procs.Chunk(chunk)); err != nil {
			return 0, err
		}
	}
	t := tick()
	out, err := procs.Map(ctx, p, noopTask, in, procs.Chunk(chunk))
	d := since(t)
	if err != nil {
		return 0, err
	}
	for i, v := range out {
		if v != int64(i) {
			return 0, fmt.Errorf("output %d is %d", i, v)
		}
	}
	return float64(d.Nanoseconds()) / float64(n), nil
}

func recovery(ctx context.Context, n int, h *hdrhistogram.Histogram) error {
	p, err := procs.NewPool(ctx, procs.PoolConfig{Workers: 1})
	if err != nil {
		return err
	}
	defer p.Terminate()
	for range n {
		f := procs.ApplyAsync(ctx, p, hangTask, 0)
		time.Sleep(80 * time.Millisecond) // the task runs, and the spare (refilled 20 ms after its use, then exec'd) is up
		pids := p.Pids()
		if len(pids) != 1 {
			return fmt.Errorf("%d workers", len(pids))
		}
		t := tick()
		if pr, err := os.FindProcess(pids[0]); err != nil || pr.Kill() != nil {
			return fmt.Errorf("kill worker %d: %v", pids[0], err)
		}
		if _, err := f.Get(ctx); !errors.Is(err, procs.ErrWorkerDied) {
			return fmt.Errorf("the killed worker's task: %v", err)
		}
		if v, err := procs.Apply(ctx, p, noopTask, 7); err != nil || v != 7 {
			return fmt.Errorf("the next task: %v %v", v, err)
		}
		_ = h.RecordValue(since(t).Microseconds())
	}
	return nil
}

func startJoin(ctx context.Context, warm bool, n int, h *hdrhistogram.Histogram) error {
	seg, err := shm.Anonymous(64)
	if err != nil {
		return err
	}
	defer seg.Close()
	opts := []procs.Option{procs.Spare(false)}
	if warm {
		if err := procs.WarmSpares(1); errors.Is(err, procs.ErrNotSupported) {
			return skip("no warm spares on this system: every start is an exec")
		} else if err != nil {
			return err
		}
		defer procs.WarmSpares(0)
		opts = nil
	}
	for i := range n {
		if warm {
			time.Sleep(40 * time.Millisecond) // untimed: the spare is up
		}
		t := tick()
		if err := touch.Run(ctx, touchArgs{Seg: seg, V: byte(i + 1)}, opts...); err != nil {
			return err
		}
		d := since(t)
		if seg.Bytes()[0] != byte(i+1) {
			return fmt.Errorf("child %d did not write", i)
		}
		_ = h.RecordValue(d.Microseconds())
	}
	return nil
}

func pythonStartJoin(ctx context.Context, n int, method string, h *hdrhistogram.Histogram) error {
	vs, err := pythonSamples(ctx, "start_join", itoa(n), method)
	if err != nil {
		return err
	}
	for _, v := range vs {
		_ = h.RecordValue(int64(v))
	}
	return nil
}

func execFloor(ctx context.Context, n int, h *hdrhistogram.Histogram) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	for range n {
		cmd := exec.CommandContext(ctx, exe)
		cmd.Env = append(os.Environ(), noopEnv+"=1")
		t := tick()
		if err := cmd.Run(); err != nil {
			return err
		}
		_ = h.RecordValue(since(t).Microseconds())
	}
	return nil
}

func primesSpeedup(ctx context.Context, limit int64) (float64, error) {
	p, err := procs.NewPool(ctx, procs.PoolConfig{Spares: -1})
	if err != nil {
		return 0, err
	}
	defer p.Terminate()
	const chunks = 64
	ranges := make([]primeRange, chunks)
	for i := range ranges {
		ranges[i] = primeRange{int64(i) * limit / chunks, int64(i+1) * limit / chunks}
	}
	t := tick()
	var serial int64
	for _, r := range ranges {
		serial += work.CountPrimes(r.Lo, r.Hi)
	}
	ts := since(t)
	t = tick()
	got, err := procs.Map(ctx, p, primesIn, ranges, procs.Chunk(1))
	tp := since(t)
	if err != nil {
		return 0, err
	}
	var pooled int64
	for _, c := range got {
		pooled += c
	}
	if pooled != serial {
		return 0, fmt.Errorf("%d primes from the pool, %d serially", pooled, serial)
	}
	return ts.Seconds() / tp.Seconds(), nil
}
