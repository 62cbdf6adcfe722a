package testmain

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/procs"
)

// NoopEnv makes the test binary exit 0 at once: the baseline for process start benchmarks.
// With the value "started" it first writes one byte to its standard output, so a benchmark
// can time a start without the exit; with "sleep" it sleeps an hour instead: a long-running
// command that every platform has (Windows has no sleep command).
const NoopEnv = "SHMKIT_TEST_NOOP"

var seq atomic.Int64

// Prefix starts the name of every segment this test binary makes, so concurrent test binaries
// (go test ./... runs packages in parallel) neither collide nor judge each other's leftovers.
func Prefix() string { return "t" + strconv.Itoa(os.Getpid()) + "-" }

// Name returns a fresh segment name for t and removes the segment when t ends, if it exists.
func Name(t testing.TB) string {
	name := Prefix() + strconv.FormatInt(seq.Add(1), 10)
	track(t, name)
	return name
}

// Self returns a command that runs this test binary in NoopEnv's mode ("1", "started" or
// "sleep"): a child of the same binary that does nothing else.
func Self(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), NoopEnv+"="+mode)
	return cmd
}

// Run is TestMain's body: it runs the child entry if this process is a child, else the tests,
// then the leak checks.
func Run(m *testing.M) {
	switch os.Getenv(NoopEnv) {
	case "started":
		_, _ = os.Stdout.Write([]byte{'.'})
		os.Exit(0)
	case "sleep":
		time.Sleep(time.Hour)
		os.Exit(0)
	case "1":
		os.Exit(0)
	}
	procs.Main()
	code := m.Run()
	if code == 0 {
		if err := leaks(); err != nil {
			fmt.Fprintln(os.Stderr, "testmain: leak after all tests passed:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leaks waits up to three seconds for stragglers to finish, then reports what is left.
func leaks() error {
	var err error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = check(); err == nil {
			return nil
		}
	}
	return err
}

func check() error {
	if left := segments(); len(left) > 0 {
		return fmt.Errorf("segments left: %v", left)
	}
	if kids := childPids(); len(kids) > 0 {
		return fmt.Errorf("child processes left: %v", kids)
	}
	if g := goroutines(); len(g) > 0 {
		return fmt.Errorf("%d goroutines left:\n%s", len(g), strings.Join(g, "\n\n"))
	}
	return nil
}

// Goroutines the runtime or the standard library keep for themselves.
var benign = []string{
	"os/signal.signal_recv", "os/signal.loop", "runtime.ensureSigM",
	"testing.(*M).startAlarm", "testing.runFuzzing", "runtime.goexit0",
}

func goroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.TrimSpace(g) == "" { // the first is this goroutine
			continue
		}
		if !containsAny(g, benign) {
			out = append(out, g)
		}
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// StartN starts n children running e, the i-th with args(i); the test fails if one cannot start.
func StartN[A any](t testing.TB, e *procs.EntryPoint[A], n int, args func(i int) A) []*procs.Process {
	t.Helper()
	ps := make([]*procs.Process, 0, n)
	for i := range n {
		p, err := e.Start(t.Context(), args(i))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// WaitAll waits for every process and fails the test on the first that did not succeed.
func WaitAll(t testing.TB, ps ...*procs.Process) {
	t.Helper()
	for _, p := range ps {
		if err := p.WaitContext(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// FaultRuns is how many randomised iterations a kill test (a TestFault… test) runs:
// SHMKIT_FAULT_RUNS if set, else 100, or 10 under -short.
func FaultRuns() int {
	if n, err := strconv.Atoi(os.Getenv("SHMKIT_FAULT_RUNS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 10
	}
	return 100
}

// Python3 returns the python3 interpreter's path, or skips the test; under CI=true on Linux a
// missing python3 fails it, since CI must exercise the interop there (CI's Windows run, under
// wine, has no Python).
func Python3(t testing.TB) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" && runtime.GOOS == "linux" {
			t.Fatal("python3 is required under CI=true: ", err)
		}
		t.Skip("python3 not installed")
	}
	return py
}
