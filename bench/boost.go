package bench

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

//go:embed boost/peer.cpp
var boostPeerCpp []byte

var (
	boostOnce sync.Once
	boostBin  string
	boostErr  error
)

// boostPeer returns the path of the Boost.Interprocess peer, building it the first time (with
// g++, into the user's cache directory, keyed by the source's hash); ErrSkip when g++ or the
// Boost headers are missing.
func boostPeer() (string, error) {
	boostOnce.Do(func() {
		gxx, err := exec.LookPath("g++")
		if err != nil {
			boostErr = skip("g++ not installed")
			return
		}
		sum := sha256.Sum256(boostPeerCpp)
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		dir = filepath.Join(dir, "shmkit-bench")
		bin := filepath.Join(dir, "boost-peer-"+hex.EncodeToString(sum[:8]))
		if _, err := os.Stat(bin); err == nil {
			boostBin = bin
			return
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			boostErr = err
			return
		}
		src := bin + ".cpp"
		if err := os.WriteFile(src, boostPeerCpp, 0o600); err != nil {
			boostErr = err
			return
		}
		defer os.Remove(src)
		out, err := exec.Command(gxx, "-O2", "-std=c++17", "-o", bin+".tmp", src, "-lrt", "-pthread").CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "boost/interprocess") && strings.Contains(string(out), "No such file") {
				boostErr = skip("the Boost headers are not installed (libboost-dev)")
			} else {
				boostErr = fmt.Errorf("building the Boost peer: %v: %s", err, lastLine(string(out)))
			}
			return
		}
		boostErr = os.Rename(bin+".tmp", bin)
		boostBin = bin
	})
	return boostBin, boostErr
}

// boost runs the peer and returns what it printed, as numbers.
func boost(ctx context.Context, args ...string) ([]float64, error) {
	bin, err := boostPeer()
	if err != nil {
		return nil, err
	}
	return runPeer(exec.CommandContext(ctx, bin, args...), "boost peer "+strings.Join(args, " "))
}

// boostStream and boostPingPong are the Boost.Interprocess message_queue implementations of
// the stream and round-trip scenarios.
func boostStream(size, count int) Impl {
	return Impl{Name: Boost, Run: func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
		vs, err := boost(ctx, "stream", itoa(size), itoa(o.scale(count)))
		if err != nil {
			return 0, err
		}
		return vs[0], nil
	}}
}

func boostPingPong(size, count int) Impl {
	return Impl{Name: Boost, Run: func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
		vs, err := boost(ctx, "pingpong", itoa(size), itoa(o.scale(count)))
		for _, v := range vs {
			_ = h.RecordValue(int64(v))
		}
		return 0, err
	}}
}

// boostMPMC is the Boost.Interprocess message_queue implementation of the 2+2 queue scenarios:
// two producer and two consumer processes forked by the peer, on one queue of 4096 messages.
func boostMPMC(size, count int) Impl {
	return Impl{Name: Boost, Run: func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
		vs, err := boost(ctx, "mpmc", itoa(size), itoa(o.scale(count)))
		if err != nil {
			return 0, err
		}
		return vs[0], nil
	}}
}
