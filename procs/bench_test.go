package procs_test

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

// BenchmarkStartJoin times whole child lives, start to reaped. Each iteration runs, in turn:
//
//	exec-noop      exec.Command of this same binary, exiting at once (no spec, no pipes, no
//	               entry): the floor every re-exec spawn pays
//	entry          an entry that returns nil
//	entry-segment  an entry given an anonymous segment it writes to
//	entry-warm     entry-segment handed to a warm spare (WarmSpares), which the other rounds
//	               give time to be up again
//
// Interleaving keeps the machine's drift out of the comparison. It reports each one's median
// and 90th percentile in milliseconds, and warm-vs-exec, the ratio of entry-warm's median to
// exec-noop's; ns/op is one round of all four.
func BenchmarkStartJoin(b *testing.B) {
	s, err := shm.Anonymous(4096)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := procs.WarmSpares(1); err != nil {
		b.Fatal(err)
	}
	defer procs.WarmSpares(0)
	impls := []struct {
		name string
		run  func() error
	}{
		{"exec-noop", func() error { return testmain.Self("1").Run() }},
		{"entry", func() error { return act.Run(b.Context(), modeArgs{"ok"}, procs.Spare(false)) }},
		{"entry-segment", func() error { return touch.Run(b.Context(), segArgs{Seg: s}, procs.Spare(false)) }},
		{"entry-warm", func() error { return touch.Run(b.Context(), segArgs{Seg: s}) }},
	}
	d := make([][]time.Duration, len(impls))
	for b.Loop() {
		for i, impl := range impls {
			t := time.Now()
			if err := impl.run(); err != nil {
				b.Fatal(err)
			}
			d[i] = append(d[i], time.Since(t))
			if impl.name == "entry-warm" {
				time.Sleep(30 * time.Millisecond) // untimed: the spare's refill execs, off the other rounds
			}
		}
	}
	for i, impl := range impls {
		slices.Sort(d[i])
		b.ReportMetric(float64(d[i][len(d[i])/2])/1e6, impl.name+"-ms-p50")
		b.ReportMetric(float64(d[i][len(d[i])*9/10])/1e6, impl.name+"-ms-p90")
	}
	b.ReportMetric(float64(d[3][len(d[3])/2])/float64(d[0][len(d[0])/2]), "warm-vs-exec")
}

// pyStartJoin is CPython's multiprocessing doing what BenchmarkStartJoin does, in each start
// method, timed by Python itself. It prints "method median_ms p90_ms" lines.
const pyStartJoin = `
import multiprocessing as mp, sys, time
def noop(): pass
if __name__ == "__main__":
    for method, n in (("fork", int(sys.argv[1])), ("forkserver", int(sys.argv[1])), ("spawn", int(sys.argv[2]))):
        ctx = mp.get_context(method)
        ctx.Process(target=noop).start()  # warm the start method (forkserver starts its server)
        d = []
        for _ in range(n):
            t = time.perf_counter()
            p = ctx.Process(target=noop)
            p.start()
            p.join()
            d.append(time.perf_counter() - t)
        d.sort()
        print(method, d[len(d)//2] * 1e3, d[len(d)*9//10] * 1e3)
`

// BenchmarkStartJoinPython reports CPython's multiprocessing start+join, measured in the same
// run as BenchmarkStartJoin, for the README's comparison. Each iteration is one python3 run of
// 100 fork, 100 forkserver and 20 spawn starts.
func BenchmarkStartJoinPython(b *testing.B) {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not installed")
	}
	res := map[string][]float64{}
	for b.Loop() {
		out, err := exec.Command(py, "-c", pyStartJoin, "100", "20").Output()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var m string
			var p50, p90 float64
			if _, err := fmt.Sscan(line, &m, &p50, &p90); err != nil {
				b.Fatalf("python printed %q: %v", line, err)
			}
			res[m+"-ms-p50"] = append(res[m+"-ms-p50"], p50)
			res[m+"-ms-p90"] = append(res[m+"-ms-p90"], p90)
		}
	}
	for k, v := range res {
		slices.Sort(v)
		b.ReportMetric(v[len(v)/2], "python-"+k)
	}
}
