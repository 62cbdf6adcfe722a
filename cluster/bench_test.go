package cluster_test

import (
	"context"
	"testing"

	"github.com/shmkit/shmkit/cluster"
	"github.com/shmkit/shmkit/internal/work"
	"github.com/shmkit/shmkit/procs"
)

type primeRange struct{ Lo, Hi int64 }

var primes = procs.Func("cluster-primes", func(ctx context.Context, r primeRange) (int64, error) { return work.CountPrimes(r.Lo, r.Hi), nil })

// pools are the three ways to run the same tasks on two worker processes, for the benchmarks
// to compare in one run: a shm procs.Pool of two workers; a cluster pool on an embedded
// in-process server, served by a local shm pool of two; and a cluster pool whose embedded
// server listens on loopback TCP, served by two worker processes of one local worker each.
type pools struct {
	shm      *procs.Pool
	embedded *cluster.Pool
	tcp      *cluster.Pool
}

func newPools(b *testing.B) pools {
	ctx := b.Context()
	shm, err := procs.NewPool(ctx, procs.PoolConfig{Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { shm.Close() })
	embedded, err := cluster.NewPool(ctx, cluster.Config{LocalWorkers: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { embedded.Close() })
	tcp, err := cluster.NewPool(ctx, cluster.Config{Listen: "127.0.0.1:0", LocalWorkers: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tcp.Close() })
	for range 2 {
		w, err := clusterWorker.Start(context.Background(), workerArgs{URL: tcp.URL(), Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { w.Kill(); w.Wait() })
	}
	// Every pool has run a task on each of its workers before the clock starts.
	for range 2 {
		cluster.Map(ctx, tcp, square, make([]int64, 64), procs.Chunk(1))
		cluster.Map(ctx, embedded, square, make([]int64, 64), procs.Chunk(1))
	}
	return pools{shm, embedded, tcp}
}

// BenchmarkApply is the per-task overhead: one Apply of a trivial function at a time, on the
// shm pool (the baseline), over the embedded server, and over loopback TCP.
func BenchmarkApply(b *testing.B) {
	ps := newPools(b)
	ctx := b.Context()
	b.Run("shm-pool", func(b *testing.B) {
		for b.Loop() {
			if _, err := procs.Apply(ctx, ps.shm, square, 3); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, p := range map[string]*cluster.Pool{"cluster-embedded": ps.embedded, "cluster-tcp-2-workers": ps.tcp} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := cluster.Apply(ctx, p, square, 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMapSmall is throughput on tasks too small to pay for themselves: Map of x*x over
// 10,000 inputs, automatic chunks, reported as inputs a second.
func BenchmarkMapSmall(b *testing.B) {
	ps := newPools(b)
	ctx := b.Context()
	in := make([]int64, 10_000)
	for i := range in {
		in[i] = int64(i)
	}
	run := func(b *testing.B, m func() ([]int64, error)) {
		for b.Loop() {
			if out, err := m(); err != nil || out[9999] != 9999*9999 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(in)*b.N)/b.Elapsed().Seconds(), "inputs/s")
	}
	b.Run("shm-pool", func(b *testing.B) { run(b, func() ([]int64, error) { return procs.Map(ctx, ps.shm, square, in) }) })
	b.Run("cluster-embedded", func(b *testing.B) {
		run(b, func() ([]int64, error) { return cluster.Map(ctx, ps.embedded, square, in) })
	})
	b.Run("cluster-tcp-2-workers", func(b *testing.B) { run(b, func() ([]int64, error) { return cluster.Map(ctx, ps.tcp, square, in) }) })
}

// BenchmarkMapPrimes is throughput on CPU-bound work, the case a cluster is for: primes
// counted in [0, 2,000,000) as 64 ranges, serially in this process (the floor) and over each
// pool.
func BenchmarkMapPrimes(b *testing.B) {
	ps := newPools(b)
	ctx := b.Context()
	const n, parts = 2_000_000, 64
	var in []primeRange
	for i := range int64(parts) {
		in = append(in, primeRange{i * n / parts, (i + 1) * n / parts})
	}
	want := work.CountPrimes(0, n)
	run := func(b *testing.B, m func() ([]int64, error)) {
		for b.Loop() {
			out, err := m()
			if err != nil {
				b.Fatal(err)
			}
			var sum int64
			for _, c := range out {
				sum += c
			}
			if sum != want {
				b.Fatalf("%d primes, want %d", sum, want)
			}
		}
	}
	b.Run("serial", func(b *testing.B) {
		run(b, func() ([]int64, error) { return []int64{work.CountPrimes(0, n)}, nil })
	})
	b.Run("shm-pool", func(b *testing.B) { run(b, func() ([]int64, error) { return procs.Map(ctx, ps.shm, primes, in) }) })
	b.Run("cluster-embedded", func(b *testing.B) {
		run(b, func() ([]int64, error) { return cluster.Map(ctx, ps.embedded, primes, in) })
	})
	b.Run("cluster-tcp-2-workers", func(b *testing.B) {
		run(b, func() ([]int64, error) { return cluster.Map(ctx, ps.tcp, primes, in) })
	})
}
