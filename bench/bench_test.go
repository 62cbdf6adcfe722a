package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The suite has every stable scenario name once, in Names' order, and only stable impl names.
func TestNamesAreStable(t *testing.T) {
	var got []string
	impls := []string{Shmkit, GoChan, OSPipe, UnixSocket, TCPLoopback, CPython, Boost, Floor}
	for _, s := range Scenarios() {
		got = append(got, s.Name)
		if len(s.Impls) == 0 || s.Unit == "" || s.Goal == "" {
			t.Errorf("%s: incomplete", s.Name)
		}
		for _, i := range s.Impls {
			if !slices.Contains(impls, i.Name) {
				t.Errorf("%s: impl %q is not a stable name", s.Name, i.Name)
			}
		}
		if strings.HasPrefix(s.Name, "floor_") != (len(s.Impls) == 1 && s.Impls[0].Name == Floor) {
			t.Errorf("%s: a floor scenario has the floor alone", s.Name)
		}
	}
	if !slices.Equal(got, Names) {
		t.Fatalf("scenarios %v\nwant %v", got, Names)
	}
}

// Every implementation of every scenario runs, at a fraction of its counts, and checks what it
// moved: none may fail. A missing peer (python3, g++ with the Boost headers) may skip, except
// under CI=true on Linux, where CI installs them (the Windows run under wine has neither).
func TestEveryScenarioMovesItsData(t *testing.T) {
	div := 50
	if testing.Short() {
		div = 200
	}
	rs, err := Run(t.Context(), Options{Quick: true, div: div}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < len(Names) {
		t.Fatalf("%d results for %d scenarios", len(rs), len(Names))
	}
	for _, r := range rs {
		switch {
		case r.Error != "":
			t.Errorf("%s/%s: %s", r.Name, r.Impl, r.Error)
		case r.Skipped != "" && (r.Impl == CPython || r.Impl == Boost) && os.Getenv("CI") == "true" && runtime.GOOS == "linux" && !strings.Contains(r.Skipped, "bpo-"):
			t.Errorf("%s/%s skipped under CI: %s", r.Name, r.Impl, r.Skipped)
		case r.Skipped == "" && r.Value <= 0:
			t.Errorf("%s/%s: a figure of %v", r.Name, r.Impl, r.Value)
		}
	}
}

// A throughput scenario's implementations run in rounds, after a warm-up run of each; each
// figure is the median of its own runs, and one that fails drops out without stopping the rest.
func TestMeasureAllInRounds(t *testing.T) {
	var order []string
	impl := func(name string, failAt int) Impl {
		n := 0
		return Impl{Name: name, Run: func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
			order = append(order, name)
			if n++; n == failAt {
				return 0, errors.New("broke")
			}
			return float64(10 * n), nil // warm-up 10, then 20, 30, 40, 50, 60: median 40
		}}
	}
	s := Scenario{Name: "x", Unit: "msg/s", Higher: true, Impls: []Impl{impl("a", 0), impl("b", 3), impl("c", 0)}}
	var told []string
	rs := measureAll(t.Context(), Options{}, s, func(_ Scenario, name string, r *Result) {
		if r != nil {
			told = append(told, name)
		}
	})
	want := "a b c a b c a b c a c a c a c"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
	if rs[0].Value != 40 || rs[0].Runs != 5 || rs[2].Value != 40 || rs[2].Runs != 5 {
		t.Errorf("figures %+v and %+v, want the median 40 of 5 runs", rs[0], rs[2])
	}
	if rs[1].Error != "broke" || rs[1].Value != 0 {
		t.Errorf("the implementation that failed: %+v", rs[1])
	}
	if got := strings.Join(told, " "); got != "b a c" {
		t.Errorf("results told in the order %q, want b (when it failed), then a and c", got)
	}
}

// A run that records nothing, or fails its check, is an error, never a figure.
func TestMeasureRefusesNothing(t *testing.T) {
	none := Impl{Name: Shmkit, Run: func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) { return 0, nil }}
	if r := measure(t.Context(), Options{}, Scenario{Name: "x", Unit: "ns"}, none); r.Error == "" {
		t.Errorf("a latency run with no samples gave %+v", r)
	}
	bad := Impl{Name: Shmkit, Run: func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
		msg := make([]byte, 64)
		fill(msg, 3)
		return 1, check(msg, 4)
	}}
	if r := measure(t.Context(), Options{}, Scenario{Name: "x", Unit: "msg/s"}, bad); r.Error == "" || r.Value != 0 {
		t.Errorf("a run whose message failed its check gave %+v", r)
	}
	missing := Impl{Name: CPython, Run: func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
		return 0, skip("python3 not installed")
	}}
	if r := measure(t.Context(), Options{}, Scenario{Name: "x", Unit: "msg/s"}, missing); r.Skipped != "python3 not installed" || r.Value != 0 {
		t.Errorf("a missing peer gave %+v", r)
	}
	// A stream whose producer sends fewer messages than the consumer expects fails, through
	// the ring and through a socket; so does one too short to time.
	for _, a := range []streamArgs{{Impl: Shmkit}, {Impl: Shmkit, Batch: 4}, {Impl: Shmkit, Buffer: 256}, {Impl: UnixSocket}} {
		a.Size, a.Count = 64, 10
		if _, err := streamN(t.Context(), a, 11, false); err == nil {
			t.Errorf("%+v: 10 messages sent, 11 expected: no error", a)
		}
	}
	// A batched stream checks every message, the last batch short.
	if r, err := streamN(t.Context(), streamArgs{Impl: Shmkit, Size: 64, Count: 1001, Batch: 32}, 1001, false); err != nil || r <= 0 {
		t.Errorf("a batched stream: %v, %v", r, err)
	}
	if _, err := streamN(t.Context(), streamArgs{Impl: Shmkit, Size: 64, Count: 1}, 1, false); err == nil {
		t.Error("a stream of one message gave a rate")
	}
}

// The report: a table row per scenario with the ratio against the best cross-process
// baseline, and JSON lines with the machine first.
func TestReports(t *testing.T) {
	rs := []Result{
		{Name: "spsc_64B_throughput", Impl: Shmkit, Value: 30e6, Unit: "msg/s", Higher: true},
		{Name: "spsc_64B_throughput", Impl: GoChan, Value: 90e6, Unit: "msg/s", Higher: true},
		{Name: "spsc_64B_throughput", Impl: UnixSocket, Value: 15e6, Unit: "msg/s", Higher: true},
		{Name: "spsc_64B_throughput", Impl: CPython, Skipped: "python3 not installed", Unit: "msg/s"},
		{Name: "pingpong_64B_rtt_spin", Impl: Shmkit, Value: 200, Unit: "ns", P99: 400, Samples: 10},
		{Name: "pingpong_64B_rtt_spin", Impl: OSPipe, Value: 20000, Unit: "ns", P99: 40000, Samples: 10},
	}
	m := Machine{CPU: "Test CPU", Cores: 2}
	var tb bytes.Buffer
	if err := WriteTable(&tb, m, rs); err != nil {
		t.Fatal(err)
	}
	out := tb.String()
	for _, want := range []string{"Test CPU", "unix-socket 15M msg/s", "2.00x", "os-pipe 20k ns", "100.00x", "skipped (python3 not installed)", "90M msg/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	var jb bytes.Buffer
	if err := WriteJSON(&jb, m, rs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(jb.String()), "\n")
	var first struct{ Machine Machine }
	if len(lines) != len(rs)+1 || json.Unmarshal([]byte(lines[0]), &first) != nil || first.Machine.CPU != "Test CPU" {
		t.Fatalf("JSON: %q", jb.String())
	}
	var r Result
	if err := json.Unmarshal([]byte(lines[5]), &r); err != nil || r.Name != "pingpong_64B_rtt_spin" || r.P99 != 400 {
		t.Fatalf("a JSON result: %+v %v", r, err)
	}
}

func TestOnly(t *testing.T) {
	rs, err := Run(t.Context(), Options{Quick: true, div: 100, Only: regexp.MustCompile("^floor_memcpy")}, nil)
	if err != nil || len(rs) != 1 || rs[0].Name != "floor_memcpy_gbps" || rs[0].Value <= 0 {
		t.Fatalf("--only floor_memcpy: %+v %v", rs, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Run(ctx, Options{div: 100}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled run: %v", err)
	}
}

func TestMachine(t *testing.T) {
	m := ThisMachine()
	if m.Cores < 1 || m.Go == "" || (m.OS == "linux" && (m.CPU == "unknown" || m.Kernel == "")) {
		t.Fatalf("%+v", m)
	}
	_ = exec.ErrNotFound
}

// The chart is an SVG document naming every scenario that has shmkit and a peer.
func TestSVG(t *testing.T) {
	rs := []Result{
		{Name: "spsc_64B_throughput", Impl: Shmkit, Value: 30e6, Unit: "msg/s", Higher: true},
		{Name: "spsc_64B_throughput", Impl: UnixSocket, Value: 15e6, Unit: "msg/s", Higher: true},
		{Name: "pingpong_64B_rtt_spin", Impl: Shmkit, Value: 200, Unit: "ns"},
		{Name: "pingpong_64B_rtt_spin", Impl: OSPipe, Value: 20000, Unit: "ns"},
		{Name: "floor_spin_rtt", Impl: Floor, Value: 180, Unit: "ns"},
		{Name: "map_get", Impl: Shmkit, Skipped: "x", Unit: "ops/s"},
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, Machine{CPU: "Test CPU", Cores: 2}, rs); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if !strings.HasPrefix(strings.TrimSpace(svg), "<?xml") || !strings.Contains(svg, "</svg>") {
		t.Fatalf("not an SVG document: %.200s", svg)
	}
	for _, want := range []string{"spsc_64B_throughput", "pingpong_64B_rtt_spin", "unix-socket", "floor (raw limit)", "Test CPU"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	if strings.Contains(svg, "map_get") {
		t.Error("a scenario shmkit skipped is charted")
	}
	if err := WriteSVG(&b, Machine{}, rs[5:]); err == nil {
		t.Error("a chart of nothing")
	}
}

// BenchmarkSuite runs the suite under go test: each scenario's implementations as
// sub-benchmarks, each reporting its figure in the scenario's unit (quick counts; the
// iteration count is not the measure, the reported metric is).
//
//	go test -run '^$' -bench 'Suite/pingpong_64B_rtt_spin' ./bench
func BenchmarkSuite(b *testing.B) {
	for _, s := range Scenarios() {
		for _, impl := range s.Impls {
			b.Run(s.Name+"/impl="+impl.Name, func(b *testing.B) {
				var r Result
				for b.Loop() {
					r = measure(b.Context(), Options{Quick: true}, s, impl)
				}
				switch {
				case r.Skipped != "":
					b.Skip(r.Skipped)
				case r.Error != "":
					b.Fatal(r.Error)
				}
				b.ReportMetric(r.Value, strings.ReplaceAll(r.Unit, "/", "-per-"))
				if r.Samples > 0 {
					b.ReportMetric(r.P99, "p99-"+r.Unit)
				}
			})
		}
	}
}
