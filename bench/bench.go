package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Implementation names: the JSON "impl" field. They are stable.
const (
	Shmkit      = "shmkit"
	GoChan      = "go-chan"
	OSPipe      = "os-pipe"
	UnixSocket  = "unix-socket"
	TCPLoopback = "tcp-loopback"
	CPython     = "cpython"
	Boost       = "boost"
	Floor       = "floor"
)

// ErrSkip is returned (wrapped, with the reason) by an implementation that cannot run here: a
// peer tool that is missing. It is reported as skipped, never as a figure.
var ErrSkip = errors.New("skipped")

func skip(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrSkip, fmt.Sprintf(format, a...))
}

// A Scenario is one thing measured, as shmkit and as each baseline, with the same message
// sizes and counts for every implementation.
type Scenario struct {
	Name   string // stable: the JSON "name" field
	Unit   string // of Value: "msg/s", "GB/s", "ns", "µs", "ms", "x"
	Higher bool   // whether a higher Value is better
	Goal   string // what shmkit's figure is judged against
	Note   string // how the baselines are set up (their batching, say)
	Impls  []Impl
}

// An Impl is one implementation of a scenario. Run measures once: a throughput run returns
// its rate; a latency run records every sample (in the scenario's unit) into h and returns 0.
type Impl struct {
	Name string
	Run  func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error)
}

// Options tune a run.
type Options struct {
	Quick bool           // fewer and shorter runs: the whole suite in under a minute
	Only  *regexp.Regexp // scenarios whose name matches; nil: all

	div int // tests: divide counts further (to check each scenario's work, not time it)
}

// runs is how many measured runs a throughput figure is the median of (after one warm-up run,
// except under Quick).
func (o Options) runs() int {
	switch {
	case o.div > 1:
		return 1
	case o.Quick:
		return 3
	}
	return 5
}

// scale shrinks counts under Quick.
func (o Options) scale(n int) int {
	if o.Quick {
		n /= 5
	}
	if o.div > 1 {
		n /= o.div
	}
	return max(2, n)
}

// A Result is one implementation's figure for one scenario.
type Result struct {
	Name    string  `json:"name"`
	Impl    string  `json:"impl"`
	Value   float64 `json:"value"` // throughput: median of the runs; latency: the median sample
	Unit    string  `json:"unit"`
	Mean    float64 `json:"mean,omitempty"`
	P50     float64 `json:"p50,omitempty"`
	P99     float64 `json:"p99,omitempty"`
	P999    float64 `json:"p99_9,omitempty"`
	Max     float64 `json:"max,omitempty"`
	Samples int64   `json:"samples,omitempty"`
	Runs    int     `json:"runs,omitempty"`
	Higher  bool    `json:"higher_is_better"`
	Skipped string  `json:"skipped,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// latencyUnit reports whether a scenario's figures are latencies (recorded as samples).
func latencyUnit(unit string) bool { return unit == "ns" || unit == "µs" || unit == "ms" }

// Names lists the scenarios in the order they run: the stable names, as the issue that asked
// for the suite lists them, floors last.
var Names = []string{
	"spsc_64B_throughput", "spsc_64B_batch32_throughput", "spsc_64B_buffered_throughput", "spsc_1KiB_throughput", "bulk_1MiB_inplace_gbps", "bulk_1MiB_copy_gbps",
	"pingpong_64B_rtt_spin", "pingpong_64B_rtt_block", "pingpong_64KiB_rtt", "mpmc_2p2c_64B_throughput",
	"mpmc_2p2c_64B_batch32_throughput",
	"sem_handoff_rtt", "mutex_uncontended", "mutex_contended_2proc", "value_add_2proc",
	"map_get", "map_set", "map_mix_98get", "pool_task_chunk1", "pool_task_auto",
	"pool_worker_killed_recovery", "process_start_join", "process_start_join_warm", "pool_primes_speedup",
	"floor_spin_rtt", "floor_futex_rtt", "floor_memcpy_gbps", "floor_exec_start_join",
}

// Scenarios returns the suite, in the order it runs (Names).
func Scenarios() []Scenario {
	var all []Scenario
	for _, group := range groups {
		all = append(all, group()...)
	}
	slices.SortStableFunc(all, func(a, b Scenario) int {
		return slices.Index(Names, a.Name) - slices.Index(Names, b.Name)
	})
	return all
}

// crossProcess reports whether impl is a peer a program could use between processes (the
// baselines a ratio is taken against); go-chan is shown beside them, in-process.
func crossProcess(impl string) bool {
	switch impl {
	case OSPipe, UnixSocket, TCPLoopback, CPython, Boost:
		return true
	}
	return false
}

// groups are the files' scenario lists.
var groups []func() []Scenario

// Run runs every selected scenario, each implementation in turn, and returns their results.
// progress, if not nil, is told what runs (for stderr).
func Run(ctx context.Context, o Options, progress func(s Scenario, impl string, r *Result)) ([]Result, error) {
	var out []Result
	for _, s := range Scenarios() {
		if o.Only != nil && !o.Only.MatchString(s.Name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, measureAll(ctx, o, s, progress)...)
	}
	return out, ctx.Err()
}

// measure measures one implementation of s.
func measure(ctx context.Context, o Options, s Scenario, impl Impl) Result {
	s.Impls = []Impl{impl}
	return measureAll(ctx, o, s, nil)[0]
}

// measureAll measures every implementation of s, telling progress (if not nil) as each starts
// and as its figure is final. A latency scenario runs them one after the other. A throughput
// scenario runs them in rounds, one run of each a round (after a warm-up run of each), so a
// change in the machine while the scenario runs falls on every implementation alike and their
// ratio holds: on a 2-vCPU guest the host moves the vCPUs, and one minute's figures can be
// twice the last's (AMD EPYC: the floor under the pipe at 75 and then 150 M msg/s).
func measureAll(ctx context.Context, o Options, s Scenario, progress func(Scenario, string, *Result)) []Result {
	rs := make([]Result, len(s.Impls))
	vs := make([][]float64, len(s.Impls))
	tell := func(i int, r *Result) {
		if progress != nil {
			progress(s, s.Impls[i].Name, r)
		}
	}
	fail := func(i int, err error) {
		if errors.Is(err, ErrSkip) {
			rs[i].Skipped = strings.TrimPrefix(err.Error(), ErrSkip.Error()+": ")
		} else {
			rs[i].Error = err.Error()
		}
		tell(i, &rs[i])
	}
	ok := func(i int) bool { return rs[i].Error == "" && rs[i].Skipped == "" }
	for i, impl := range s.Impls {
		rs[i] = Result{Name: s.Name, Impl: impl.Name, Unit: s.Unit, Higher: s.Higher}
		tell(i, nil)
		switch {
		case latencyUnit(s.Unit):
			if err := rs[i].sample(ctx, o, impl); err != nil {
				fail(i, err)
			} else {
				tell(i, &rs[i])
			}
		case !o.Quick && o.div <= 1: // a warm-up run, not counted (--quick and tests skip it)
			if _, err := impl.Run(ctx, o, nil); err != nil {
				fail(i, err)
			}
		}
	}
	if latencyUnit(s.Unit) {
		return rs
	}
	for range o.runs() {
		for i, impl := range s.Impls {
			if !ok(i) {
				continue
			}
			v, err := impl.Run(ctx, o, nil)
			if err != nil {
				fail(i, err)
				continue
			}
			vs[i] = append(vs[i], v)
		}
	}
	for i := range rs {
		if ok(i) {
			sort.Float64s(vs[i])
			rs[i].Value, rs[i].Runs = vs[i][len(vs[i])/2], len(vs[i])
			tell(i, &rs[i])
		}
	}
	return rs
}

// sample records impl's latencies in an HDR histogram, in one run, and sets r's figures.
func (r *Result) sample(ctx context.Context, o Options, impl Impl) error {
	h := hdrhistogram.New(1, int64(time.Hour), 3)
	if _, err := impl.Run(ctx, o, h); err != nil {
		return err
	}
	if h.TotalCount() == 0 {
		return errors.New("no samples recorded")
	}
	r.Value = float64(h.ValueAtQuantile(50))
	r.P50, r.P99, r.P999 = r.Value, float64(h.ValueAtQuantile(99)), float64(h.ValueAtQuantile(99.9))
	r.Max, r.Mean, r.Samples, r.Runs = float64(h.Max()), h.Mean(), h.TotalCount(), 1
	return nil
}

// Machine describes where the figures come from.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	OS     string `json:"os"`
	Arch   string `json:"arch"`
}

// ThisMachine reads the CPU model (/proc/cpuinfo), core count, kernel release and Go version.
func ThisMachine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	m.Kernel = kernelRelease()
	return m
}

// best returns the best cross-process baseline's result of a scenario, if any ran.
func best(rs []Result, higher bool) *Result {
	var b *Result
	for i := range rs {
		r := &rs[i]
		if !crossProcess(r.Impl) || r.Skipped != "" || r.Error != "" || r.Value <= 0 {
			continue
		}
		if b == nil || (higher && r.Value > b.Value) || (!higher && r.Value < b.Value) {
			b = r
		}
	}
	return b
}

// byScenario groups results by scenario name, in the order they came.
func byScenario(rs []Result) (names []string, by map[string][]Result) {
	by = map[string][]Result{}
	for _, r := range rs {
		if _, ok := by[r.Name]; !ok {
			names = append(names, r.Name)
		}
		by[r.Name] = append(by[r.Name], r)
	}
	return names, by
}

func scenarioNamed(name string) (Scenario, bool) {
	i := slices.IndexFunc(Scenarios(), func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return Scenarios()[i], true
}
