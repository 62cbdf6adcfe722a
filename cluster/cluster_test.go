package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shmkit/shmkit/cluster"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) { testmain.Run(m) }

var (
	square = procs.Func("cluster-square", func(ctx context.Context, x int64) (int64, error) { return x * x, nil })
	// host is which cluster worker ran the input: the parent of the local pool worker.
	host = procs.Func("cluster-host", func(ctx context.Context, x int) (int, error) {
		time.Sleep(time.Millisecond) // long enough that one worker cannot take every task
		return os.Getppid(), nil
	})
	slow = procs.Func("cluster-slow", func(ctx context.Context, x int64) (int64, error) {
		time.Sleep(20 * time.Millisecond)
		return -x, nil
	})
	failAt = procs.Func("cluster-fail", func(ctx context.Context, x int) (string, error) {
		if x == 1234 {
			return "", fmt.Errorf("no %d", x)
		}
		return fmt.Sprint(x), nil
	})
	// hidden is registered only in processes started without noHidden: a worker that lacks it.
	hidden = registerHidden()
)

const noHidden = "SHMKIT_CLUSTER_TEST_NO_HIDDEN"

func registerHidden() *procs.Fn[int, int] {
	if os.Getenv(noHidden) != "" {
		return nil
	}
	return procs.Func("cluster-hidden", func(ctx context.Context, x int) (int, error) { return x, nil })
}

type workerArgs struct {
	URL     string
	Workers int
}

var clusterWorker = procs.Entry("cluster-worker", func(ctx context.Context, a workerArgs) error {
	return cluster.Serve(ctx, a.URL, cluster.LocalPool(procs.PoolConfig{Workers: a.Workers}))
})

// coordinator starts a pool whose embedded server listens on loopback, served by no local
// workers, and closes it when the test ends, checking that its store is gone.
func coordinator(t *testing.T, cfg cluster.Config) *cluster.Pool {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.LocalWorkers == 0 {
		cfg.LocalWorkers = -1
	}
	p, err := cluster.NewPool(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closePool(t, p) })
	return p
}

func closePool(t *testing.T, p *cluster.Pool) {
	t.Helper()
	dir := cluster.StoreDir(p)
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Stat(dir); dir == "" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store dir %q after Close: %v", dir, err)
	}
}

// workers starts n worker processes on url, each with a local pool of one worker, and kills
// them when the test ends.
func workers(t *testing.T, url string, n int, opts ...procs.Option) []*procs.Process {
	t.Helper()
	var ps []*procs.Process
	for range n {
		p, err := clusterWorker.Start(context.Background(), workerArgs{URL: url, Workers: 1}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		t.Cleanup(func() { p.Kill(); p.Wait() })
	}
	return ps
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestMapOverTwoWorkerProcesses(t *testing.T) {
	p := coordinator(t, cluster.Config{})
	ws := workers(t, p.URL(), 2)
	ctx := ctxFor(t, time.Minute)
	waitWorkers(t, p, 2, 10*time.Second) // each worker host has one local worker
	in := make([]int64, 10_000)
	for i := range in {
		in[i] = int64(i) - 5000
	}
	out, err := cluster.Map(ctx, p, square, in)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Tasks != 8 {
		t.Errorf("%d tasks for two workers, want automatic chunks of four tasks per worker", s.Tasks)
	}
	if len(out) != len(in) {
		t.Fatalf("%d outputs for %d inputs", len(out), len(in))
	}
	for i, x := range in {
		if out[i] != x*x {
			t.Fatalf("out[%d] = %d, want %d", i, out[i], x*x)
		}
	}
	// Both worker processes served: each input says which one ran it.
	hosts, err := cluster.Map(ctx, p, host, make([]int, 200), procs.Chunk(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if !slices.Contains(hosts, w.Pid()) {
			t.Errorf("worker %d ran none of 200 tasks; ran by %v", w.Pid(), compact(hosts))
		}
	}
	if s := p.Stats(); s.Results != s.Tasks || s.Redelivered != 0 {
		t.Errorf("stats %+v: want a result for each task, none redelivered", s)
	}
}

// waitWorkers waits up to d until the pool counts n workers.
func waitWorkers(t *testing.T, p *cluster.Pool, n int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); p.Workers() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pool counts %d workers, want %d", p.Workers(), n)
		}
	}
}

func compact(xs []int) []int {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return slices.Compact(xs)
}

// The zero Config: an embedded in-process server, served by CPUCount() local workers.
func TestEmbeddedDefault(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	p, err := cluster.NewPool(ctx, cluster.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer closePool(t, p)
	if p.URL() != "" {
		t.Errorf("URL %q of an in-process pool", p.URL())
	}
	if n := p.Workers(); n != procs.CPUCount() {
		t.Errorf("Workers() = %d, want the local pool's %d", n, procs.CPUCount())
	}
	in := []int64{1, 2, 3, 4, 5, 6, 7}
	out, err := cluster.Map(ctx, p, square, in)
	if err != nil || !slices.Equal(out, []int64{1, 4, 9, 16, 25, 36, 49}) {
		t.Fatalf("Map = %v, %v", out, err)
	}
	if v, err := cluster.Apply(ctx, p, square, 12); v != 144 || err != nil {
		t.Errorf("Apply = %d, %v", v, err)
	}
	f := cluster.ApplyAsync(ctx, p, square, 3)
	if v, err := f.Get(ctx); v != 9 || err != nil || !f.Successful() {
		t.Errorf("ApplyAsync = %d, %v", v, err)
	}
	var got []int64
	for v, err := range cluster.Imap(ctx, p, square, in, procs.Chunk(2)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if !slices.Equal(got, out) {
		t.Errorf("Imap = %v", got)
	}
	got = got[:0]
	for v, err := range cluster.ImapUnordered(ctx, p, square, in, procs.Chunk(2)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	slices.Sort(got)
	if !slices.Equal(got, out) {
		t.Errorf("ImapUnordered = %v", got)
	}
}

func TestTaskError(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	p, err := cluster.NewPool(ctx, cluster.Config{LocalWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer closePool(t, p)
	in := make([]int, 2000)
	for i := range in {
		in[i] = i
	}
	_, err = cluster.Map(ctx, p, failAt, in)
	var te *procs.TaskError
	if !errors.As(err, &te) || te.Index != 1234 || te.Message != "no 1234" {
		t.Fatalf("Map = %v (%#v), want the TaskError of input 1234", err, te)
	}
	// Imap yields every output before the failing input, then the error.
	n := 0
	for v, err := range cluster.Imap(ctx, p, failAt, in, procs.Chunk(100)) {
		if err != nil {
			if !errors.As(err, &te) || te.Index != 1234 || n != 1200 {
				t.Fatalf("Imap failed with %v after %d outputs, want the TaskError of 1234 after 1200", err, n)
			}
			break
		}
		if v != fmt.Sprint(n) {
			t.Fatalf("Imap output %d = %q", n, v)
		}
		n++
	}
	if _, err := cluster.Map(ctx, p, square, []int64{3}); err != nil {
		t.Errorf("Map after a failure: %v", err)
	}
}

func TestUnreachableURL(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	start := time.Now()
	_, err := cluster.NewPool(ctx, cluster.Config{URL: "nats://127.0.0.1:1", ConnectTimeout: 2 * time.Second})
	if !errors.Is(err, cluster.ErrConnect) {
		t.Errorf("NewPool on a closed port: %v, want ErrConnect", err)
	}
	err = cluster.Serve(ctx, "nats://127.0.0.1:1", cluster.ConnectTimeout(2*time.Second))
	if !errors.Is(err, cluster.ErrConnect) {
		t.Errorf("Serve on a closed port: %v, want ErrConnect", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

func TestBadConfig(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for _, cfg := range []cluster.Config{
		{Name: "a.b"}, {Name: "x y"}, {URL: "nats://127.0.0.1:4222", Listen: "127.0.0.1:0"},
		{Listen: "nonsense"}, {AckWait: -1},
	} {
		if p, err := cluster.NewPool(ctx, cfg); err == nil {
			p.Close()
			t.Errorf("NewPool(%+v) did not fail", cfg)
		}
	}
	if err := cluster.Serve(ctx, "nats://127.0.0.1:1", cluster.PoolName("a*")); err == nil || errors.Is(err, cluster.ErrConnect) {
		t.Errorf("Serve with a bad pool name: %v", err)
	}
}

func TestWorkerLacksFunction(t *testing.T) {
	p := coordinator(t, cluster.Config{})
	workers(t, p.URL(), 1, procs.Env(noHidden+"=1"))
	ctx := ctxFor(t, time.Minute)
	_, err := cluster.Map(ctx, p, hidden, []int{1, 2, 3})
	if !errors.Is(err, cluster.ErrUnknownFunc) {
		t.Fatalf("Map of a function the worker lacks: %v, want ErrUnknownFunc", err)
	}
	// The worker still serves what it has.
	if v, err := cluster.Apply(ctx, p, square, 5); v != 25 || err != nil {
		t.Errorf("Apply after = %d, %v", v, err)
	}
}

func TestCancel(t *testing.T) {
	p := coordinator(t, cluster.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// No worker: the tasks wait in the stream until the call gives up.
	start := time.Now()
	_, err := cluster.Map(ctx, p, square, []int64{1, 2, 3})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Map with no worker: %v after %v", err, time.Since(start))
	}
	// The withdrawn tasks are gone: a worker that comes later runs only the next call's.
	workers(t, p.URL(), 1)
	if v, err := cluster.Apply(ctxFor(t, time.Minute), p, square, 4); v != 16 || err != nil {
		t.Errorf("Apply = %d, %v", v, err)
	}
	if s := p.Stats(); s.Dropped != 0 {
		t.Errorf("stats %+v: the withdrawn tasks ran", s)
	}
}

// A worker whose context ends returns at once and hands the tasks it holds back to the
// stream, so another worker runs them now, not after AckWait (30 s here).
func TestServeStopsAndHandsBack(t *testing.T) {
	p := coordinator(t, cluster.Config{})
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- cluster.Serve(sctx, p.URL(), cluster.LocalPool(procs.PoolConfig{Workers: 1})) }()
	ctx := ctxFor(t, 20*time.Second)
	in := make([]int64, 100)
	f := cluster.MapAsync(ctx, p, slow, in, procs.Chunk(10))
	time.Sleep(500 * time.Millisecond) // it holds tasks now
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after its context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	// Its goodbye, not the silence of a few seconds, takes it off the count.
	waitWorkers(t, p, 0, time.Second)
	workers(t, p.URL(), 1)
	if _, err := f.Get(ctx); err != nil {
		t.Fatalf("Map after the first worker stopped: %v", err)
	}
}

func TestClose(t *testing.T) {
	p, err := cluster.NewPool(ctxFor(t, time.Minute), cluster.Config{LocalWorkers: -1})
	if err != nil {
		t.Fatal(err)
	}
	dir := cluster.StoreDir(p)
	// No worker: the call waits until Close fails it.
	f := cluster.MapAsync(context.Background(), p, square, []int64{1, 2})
	time.Sleep(100 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctxFor(t, 10*time.Second)); !errors.Is(err, procs.ErrPoolClosed) {
		t.Errorf("a call out at Close: %v, want ErrPoolClosed", err)
	}
	if _, err := cluster.Apply(context.Background(), p, square, 2); !errors.Is(err, procs.ErrPoolClosed) {
		t.Errorf("Apply after Close: %v, want ErrPoolClosed", err)
	}
	if err := p.Close(); !errors.Is(err, procs.ErrPoolClosed) {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store dir %q after Close: %v", dir, err)
	}
}

// The store of a coordinator that died before Close is removed by the next one on the host;
// a live process's is not.
func TestStaleStoreReclaimed(t *testing.T) {
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(os.TempDir(), fmt.Sprintf("shmkit-nats-%d-1-x", dead.Process.Pid))
	live := filepath.Join(os.TempDir(), fmt.Sprintf("shmkit-nats-%d-0-x", os.Getpid()))
	for _, dir := range []string{stale, live} {
		if err := os.MkdirAll(filepath.Join(dir, "jetstream"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(live)
	defer os.RemoveAll(stale)
	p, err := cluster.NewPool(ctxFor(t, time.Minute), cluster.Config{LocalWorkers: -1})
	if err != nil {
		t.Fatal(err)
	}
	closePool(t, p)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dead coordinator's store %s: %v, want it removed", stale, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live process's store: %v, want it kept", err)
	}
}

var (
	segLen   = procs.Func("cluster-seg-len", func(ctx context.Context, s *shm.Segment) (int, error) { return len(s.Bytes()), nil })
	bytesLen = procs.Func("cluster-bytes-len", func(ctx context.Context, b []byte) (int, error) { return len(b), nil })
)

// Inputs that cannot travel fail before anything is published, and the pool goes on.
func TestBadInputs(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	p, err := cluster.NewPool(ctx, cluster.Config{LocalWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer closePool(t, p)
	seg, err := shm.Anonymous(64)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if _, err := cluster.Apply(ctx, p, segLen, seg); !errors.Is(err, procs.ErrEncode) {
		t.Errorf("a shared segment as an input: %v, want procs.ErrEncode (it cannot cross hosts)", err)
	}
	// One input larger than a message: ErrTooBig. Many that fit only a few to a message are
	// split into tasks that fit.
	if _, err := cluster.Apply(ctx, p, bytesLen, make([]byte, 2<<20)); !errors.Is(err, cluster.ErrTooBig) {
		t.Errorf("a 2 MiB input: %v, want ErrTooBig", err)
	}
	in := make([][]byte, 16)
	for i := range in {
		in[i] = make([]byte, 200<<10) // a local pool task pipe takes inputs up to 256 KiB
	}
	out, err := cluster.Map(ctx, p, bytesLen, in, procs.Chunk(16))
	if err != nil || len(out) != 16 || out[15] != 200<<10 {
		t.Errorf("16 inputs of 200 KiB: %v, %v", len(out), err)
	}
	if s := p.Stats(); s.Tasks < 4 || s.Results != s.Tasks {
		t.Errorf("stats %+v: 3.2 MiB of inputs in messages of 1 MiB", s)
	}
}
