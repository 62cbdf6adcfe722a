package procs_test

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

// BenchmarkStartJoin times one child's whole life, start to reaped, beside exec.Command of the
// same binary exiting at once (no spec, no pipes, no entry): the floor any re-exec spawn pays.
// Besides ns/op (the mean) it reports the median and 90th percentile in milliseconds.
func BenchmarkStartJoin(b *testing.B) {
	b.Run("impl=exec-noop", func(b *testing.B) {
		timed(b, func() {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), testmain.NoopEnv+"=1")
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("impl=shmkit-entry", func(b *testing.B) {
		timed(b, func() {
			if err := act.Run(b.Context(), modeArgs{"ok"}); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("impl=shmkit-entry-with-segment", func(b *testing.B) {
		s, err := shm.Anonymous(4096)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		timed(b, func() {
			if err := touch.Run(b.Context(), segArgs{Seg: s}); err != nil {
				b.Fatal(err)
			}
		})
	})
}

func timed(b *testing.B, op func()) {
	var d []time.Duration
	for b.Loop() {
		t := time.Now()
		op()
		d = append(d, time.Since(t))
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2])/1e6, "ms-p50")
	b.ReportMetric(float64(d[len(d)*9/10])/1e6, "ms-p90")
}
