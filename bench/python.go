package bench

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

//go:embed python/peers.py
var peersPy []byte

// python runs a scenario of python/peers.py with CPython's multiprocessing and returns the
// number it prints; ErrSkip when python3 is not installed.
func python(ctx context.Context, args ...string) (float64, error) {
	vs, err := pythonSamples(ctx, args...)
	if err != nil {
		return 0, err
	}
	if len(vs) != 1 {
		return 0, fmt.Errorf("python3 peers.py %s printed %d numbers, not one", strings.Join(args, " "), len(vs))
	}
	return vs[0], nil
}

// pythonSamples is python for a scenario that prints every sample, space-separated.
func pythonSamples(ctx context.Context, args ...string) ([]float64, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, skip("python3 not installed")
	}
	dir, err := os.MkdirTemp("", "shmkit-bench-py-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "peers.py")
	if err := os.WriteFile(script, peersPy, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	cmd.Dir = dir
	return runPeer(cmd, "python3 peers.py "+strings.Join(args, " "))
}

// runPeer runs a peer program (CPython's script, the Boost program) and returns the numbers
// it printed; a line "skip REASON" is ErrSkip, a failure carries its last line of stderr.
func runPeer(cmd *exec.Cmd, what string) ([]float64, error) {
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("%s: %v: %s", what, err, lastLine(string(ee.Stderr)))
		}
		return nil, err
	}
	line := strings.TrimSpace(string(out))
	if reason, ok := strings.CutPrefix(line, "skip "); ok {
		return nil, skip("%s", reason)
	}
	var vs []float64
	for _, f := range strings.Fields(line) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%s printed %q", what, f)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%s printed nothing", what)
	}
	return vs, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func itoa(n int) string { return strconv.Itoa(n) }

// pythonInto records every sample a peers.py scenario prints into h.
func pythonInto(ctx context.Context, h *hdrhistogram.Histogram, args ...string) error {
	vs, err := pythonSamples(ctx, args...)
	for _, v := range vs {
		_ = h.RecordValue(int64(v))
	}
	return err
}

// pyRate is a CPython peer of a rate scenario: python/peers.py run with args and then the
// count n (scaled by the options), printing the figure.
func pyRate(n int, args ...string) Impl {
	return Impl{Name: CPython, Run: func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
		return python(ctx, append(slices.Clip(args), itoa(o.scale(n)))...)
	}}
}

// pyLatency is a CPython peer of a latency scenario: as pyRate, every number it prints a
// sample.
func pyLatency(n int, args ...string) Impl {
	return Impl{Name: CPython, Run: func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
		return 0, pythonInto(ctx, h, append(slices.Clip(args), itoa(o.scale(n)))...)
	}}
}
