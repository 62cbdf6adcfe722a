package ctypes_test

import (
	"context"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/sem"
)

type benchAddArgs struct {
	V    *ctypes.Value[int64]
	Go   *sem.SharedEvent
	Done *sem.SharedSemaphore
	N    int
}

// benchAdder adds N times, then releases Done.
var benchAdder = procs.Entry("ctypes.benchAdder", func(ctx context.Context, a benchAddArgs) error {
	if err := a.Go.WaitContext(ctx); err != nil {
		return err
	}
	for range a.N {
		if _, err := a.V.Add(1); err != nil {
			return err
		}
	}
	return a.Done.Release()
})

// BenchmarkValueAdd: Value.Add from two processes (this one and a child, N adds each; ns/op
// is per add, over both) beside sync/atomic from two goroutines of one process.
func BenchmarkValueAdd(b *testing.B) {
	b.Run("impl=shmkit-2-processes", func(b *testing.B) {
		v, _ := ctypes.NewValue[int64](0)
		defer v.Close()
		start, _ := sem.NewEvent()
		defer start.Close()
		done, _ := sem.NewSemaphore(0)
		defer done.Close()
		p, err := benchAdder.Start(b.Context(), benchAddArgs{V: v, Go: start, Done: done, N: b.N})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		_ = start.Set()
		for range b.N {
			_, _ = v.Add(1)
		}
		_ = done.Acquire()
		b.StopTimer()
		_ = p.Wait()
		if got, _ := v.Load(); got != int64(2*b.N) {
			b.Fatalf("%d adds, want %d", got, 2*b.N)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/add")
	})
	b.Run("impl=sync-atomic-2-goroutines", func(b *testing.B) {
		var x atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range 2 {
			wg.Go(func() {
				for range b.N {
					x.Add(1)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/add")
	})
}

// BenchmarkArraySet: Array.Set under its lock beside a store through a RawArray's slice.
func BenchmarkArraySet(b *testing.B) {
	b.Run("impl=shmkit-array-locked", func(b *testing.B) {
		a, _ := ctypes.NewArray[float64](1024)
		defer a.Close()
		for i := range b.N {
			_ = a.Set(i&1023, float64(i))
		}
	})
	b.Run("impl=shmkit-rawarray-slice", func(b *testing.B) {
		a, _ := ctypes.NewRawArray[float64](1024)
		defer a.Close()
		s := a.Slice()
		for i := range b.N {
			s[i&1023] = float64(i)
		}
	})
}

const benchKeys = 1 << 14

func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%08d", i&(benchKeys-1)) }

func filledMap(b *testing.B) *ctypes.Map {
	m, err := ctypes.NewMap(ctypes.MapConfig{Capacity: 4 * benchKeys, KeyMax: 16, ValueMax: 64})
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 64)
	for i := range benchKeys {
		if err := m.Set(benchKey(i), val); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

type mapBenchArgs struct {
	M    *ctypes.Map
	Go   *sem.SharedEvent
	Done *sem.SharedSemaphore
	N    int
	Set  bool
}

// mapBencher gets (or sets) N keys, then releases Done.
var mapBencher = procs.Entry("ctypes.mapBencher", func(ctx context.Context, a mapBenchArgs) error {
	if err := a.Go.WaitContext(ctx); err != nil {
		return err
	}
	buf := make([]byte, 64)
	keys := make([][]byte, benchKeys)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	for i := range a.N {
		if a.Set {
			if err := a.M.Set(keys[i&(benchKeys-1)], buf); err != nil {
				return err
			}
		} else if _, _, err := a.M.Get(keys[i&(benchKeys-1)], buf); err != nil {
			return err
		}
	}
	return a.Done.Release()
})

// BenchmarkMap: gets and sets of 64-byte values among 16 K keys, from one process and from
// two (this one and a child, N ops each: ns/op is per op over both), beside a Go map under a
// sync.RWMutex in one process. CPython's Manager().dict() is timed by python3 in the same run.
func BenchmarkMap(b *testing.B) {
	keys := make([][]byte, benchKeys)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	for _, op := range []string{"get", "set"} {
		b.Run("op="+op+"/impl=shmkit-1-process", func(b *testing.B) {
			m := filledMap(b)
			defer m.Close()
			buf := make([]byte, 64)
			b.ResetTimer()
			for i := range b.N {
				if op == "get" {
					buf, _, _ = m.Get(keys[i&(benchKeys-1)], buf)
				} else {
					_ = m.Set(keys[i&(benchKeys-1)], buf)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run("op="+op+"/impl=shmkit-2-processes", func(b *testing.B) {
			m := filledMap(b)
			defer m.Close()
			start, _ := sem.NewEvent()
			defer start.Close()
			done, _ := sem.NewSemaphore(0)
			defer done.Close()
			p, err := mapBencher.Start(b.Context(), mapBenchArgs{M: m, Go: start, Done: done, N: b.N, Set: op == "set"})
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 64)
			b.ResetTimer()
			_ = start.Set()
			for i := range b.N {
				if op == "get" {
					buf, _, _ = m.Get(keys[i&(benchKeys-1)], buf)
				} else {
					_ = m.Set(keys[i&(benchKeys-1)], buf)
				}
			}
			_ = done.Acquire()
			b.StopTimer()
			_ = p.Wait()
			b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run("op="+op+"/impl=go-map-rwmutex", func(b *testing.B) {
			var mu sync.RWMutex
			gm := map[string][]byte{}
			for _, k := range keys {
				gm[string(k)] = make([]byte, 64)
			}
			buf := make([]byte, 64)
			b.ResetTimer()
			for i := range b.N {
				k := keys[i&(benchKeys-1)]
				if op == "get" {
					mu.RLock()
					buf = append(buf[:0], gm[string(k)]...)
					mu.RUnlock()
				} else {
					mu.Lock()
					copy(gm[string(k)], buf)
					mu.Unlock()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
	b.Run("op=mixed/impl=python-manager-dict", func(b *testing.B) {
		py, err := exec.LookPath("python3")
		if err != nil {
			b.Skip("python3 not installed")
		}
		out, err := exec.Command(py, "-c", `
import multiprocessing as mp, time
if __name__ == "__main__":
    with mp.Manager() as m:
        d = m.dict()
        keys = ["key-%08d" % i for i in range(1024)]
        for k in keys: d[k] = b"x" * 64
        n = 20000
        t = time.perf_counter()
        for i in range(n): d[keys[i % 1024]]
        g = (time.perf_counter() - t) / n
        t = time.perf_counter()
        for i in range(n): d[keys[i % 1024]] = b"y" * 64
        s = (time.perf_counter() - t) / n
        print(g * 1e9, s * 1e9)
`).Output()
		if err != nil {
			b.Skip(err)
		}
		var g, s float64
		fmt.Sscan(string(out), &g, &s)
		for range b.N {
		}
		b.ReportMetric(1e9/g, "get-ops/s")
		b.ReportMetric(1e9/s, "set-ops/s")
	})
}
