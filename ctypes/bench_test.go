package ctypes_test

import (
	"context"
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
