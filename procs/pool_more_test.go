package procs_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

type nap struct {
	I int
	D time.Duration
}

var napEcho = procs.Func("procs.napEcho", func(ctx context.Context, n nap) (int, error) {
	time.Sleep(n.D)
	return n.I, nil
})

// napFail is napEcho that fails for a negative I.
var napFail = procs.Func("procs.napFail", func(ctx context.Context, n nap) (int, error) {
	time.Sleep(n.D)
	if n.I < 0 {
		return 0, errors.New("negative")
	}
	return n.I, nil
})

var pidOf = procs.Func("procs.pidOf", func(ctx context.Context, _ int32) (int, error) { return os.Getpid(), nil })

func newPool(t *testing.T, cfg procs.PoolConfig) *procs.Pool {
	t.Helper()
	p, err := procs.NewPool(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Terminate() })
	return p
}

// Imap yields in input order, each output as soon as it and those before it are in: the fast
// first inputs come out long before the slow last one is done.
func TestPoolImapYieldsInOrderAsResultsArrive(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2})
	in := []nap{{0, 10 * time.Millisecond}, {1, 10 * time.Millisecond}, {2, 10 * time.Millisecond}, {3, 10 * time.Millisecond}, {4, time.Second}}
	start := time.Now()
	var got []int
	var at []time.Duration
	for v, err := range procs.Imap(t.Context(), p, napEcho, in, procs.Chunk(1)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		at = append(at, time.Since(start))
	}
	if !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("Imap order: %v", got)
	}
	if at[3] > at[4]-500*time.Millisecond {
		t.Fatalf("the fourth output came at %v, the last at %v: not streamed", at[3], at[4])
	}
}

// ImapUnordered yields every output exactly once, the quick ones before the slow one.
func TestPoolImapUnordered(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2})
	in := []nap{{0, 600 * time.Millisecond}}
	for i := 1; i < 50; i++ {
		in = append(in, nap{i, time.Millisecond})
	}
	var got []int
	for v, err := range procs.ImapUnordered(t.Context(), p, napEcho, in, procs.Chunk(1)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if got[0] == 0 {
		t.Fatalf("the slow input came first: %v", got)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != i {
			t.Fatalf("ImapUnordered yielded %v", got)
		}
	}
	// Breaking out early stops the job, and the pool goes on.
	n := 0
	for range procs.ImapUnordered(t.Context(), p, napEcho, in, procs.Chunk(1)) {
		if n++; n == 3 {
			break
		}
	}
	if v, err := procs.Apply(t.Context(), p, poolSquare, 7); err != nil || v != 49 {
		t.Fatalf("after an early break: %v %v", v, err)
	}
	// An error ends the loop as its last pair.
	var last error
	count := 0
	for _, err := range procs.Imap(t.Context(), p, failOn, []int{1, 2, 13, 4}, procs.Chunk(1)) {
		count++
		last = err
	}
	var te *procs.TaskError
	if !errors.As(last, &te) || te.Index != 2 || count != 3 {
		t.Fatalf("Imap over a failing input: %d pairs, last %v", count, last)
	}
}

func TestPoolFutures(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2})
	f := procs.MapAsync(t.Context(), p, napEcho, []nap{{1, 300 * time.Millisecond}, {2, 0}})
	if f.Ready() || f.Successful() {
		t.Fatal("ready at once")
	}
	short, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := f.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a short context: %v", err)
	}
	out, err := f.Get(t.Context())
	if err != nil || !slices.Equal(out, []int{1, 2}) || !f.Ready() || !f.Successful() {
		t.Fatalf("Get: %v %v ready=%v ok=%v", out, err, f.Ready(), f.Successful())
	}
	a := procs.ApplyAsync(t.Context(), p, poolSquare, 9)
	b := procs.ApplyAsync(t.Context(), p, failOn, 13)
	if v, err := a.Get(t.Context()); err != nil || v != 81 {
		t.Fatalf("ApplyAsync: %v %v", v, err)
	}
	var te *procs.TaskError
	if _, err := b.Get(t.Context()); !errors.As(err, &te) || b.Successful() || !b.Ready() {
		t.Fatalf("a failing ApplyAsync: %v", err)
	}
}

// initArgs reach each worker's Init, which counts itself in shared memory and leaves a value
// for the worker's tasks in a package variable, as Python initializers do.
type initArgs struct {
	Count *ctypes.Value[int64]
	Tag   string
}

var initTag string

var poolInit = procs.Entry("procs.poolInit", func(ctx context.Context, a initArgs) error {
	if a.Tag == "fail" {
		return errors.New("init refuses")
	}
	if _, err := a.Count.Add(1); err != nil {
		return err
	}
	initTag = a.Tag + "@" + strings.Repeat("!", 1)
	return nil
})

var readTag = procs.Func("procs.readTag", func(ctx context.Context, _ int32) (string, error) { return initTag, nil })

func TestPoolInitRunsOncePerWorker(t *testing.T) {
	count, err := ctypes.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer count.Close()
	p := newPool(t, procs.PoolConfig{Workers: 2, Init: procs.InitWith(poolInit, initArgs{Count: count, Tag: "hello"})})
	out, err := procs.Map(t.Context(), p, readTag, make([]int32, 20), procs.Chunk(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range out {
		if s != "hello@!" {
			t.Fatalf("a task saw %q", s)
		}
	}
	if n, _ := count.Load(); n != 2 {
		t.Fatalf("Init ran %d times for 2 workers", n)
	}
	if _, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 2, Init: procs.InitWith(poolInit, initArgs{Count: count, Tag: "fail"})}); err == nil || !strings.Contains(err.Error(), "init refuses") {
		t.Fatalf("a failing Init: %v", err)
	}
}

type slowInitArgs struct{ Slow *ctypes.Value[int64] }

// slowInit keeps a worker from being ready for a minute while Slow is set.
var slowInit = procs.Entry("procs.slowInit", func(ctx context.Context, a slowInitArgs) error {
	if v, _ := a.Slow.Load(); v != 0 {
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
		}
	}
	return nil
})

// TestPoolReplacementsKilledWhileStarting: replacements killed before they are ready, five in
// a row, are deaths, not failed starts: the slot keeps starting workers, and the pool is whole
// again once they are let live (a pool that counted them as failed starts gave the slot up
// after three and broke).
func TestPoolReplacementsKilledWhileStarting(t *testing.T) {
	slow, err := ctypes.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	p := newPool(t, procs.PoolConfig{Workers: 1, Spares: -1, Init: procs.InitWith(slowInit, slowInitArgs{Slow: slow})})
	first, err := procs.Apply(t.Context(), p, pidOf, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = slow.Store(1)
	killed := map[int]bool{first: true}
	if err := testmain.Kill(first); err != nil {
		t.Fatal(err)
	}
	// The task finds the worker dead; its replacements are killed in their Init, five times.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	f := procs.ApplyAsync(ctx, p, pidOf, 0)
	for len(killed) < 6 {
		var pid int
		for deadline := time.Now().Add(20 * time.Second); pid == 0; time.Sleep(time.Millisecond) {
			for _, q := range p.Pids() {
				if !killed[q] {
					pid = q
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no new worker 20 s after %d kills: %v", len(killed), p)
			}
		}
		if len(killed) == 5 {
			_ = slow.Store(0) // the replacement after this kill may live
		}
		killed[pid] = true
		if err := testmain.Kill(pid); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := f.Get(ctx); err != nil || killed[v] {
		t.Fatalf("after the killed starts: pid %d, %v (%v)", v, err, p)
	}
}

// TestPoolReplacesIdleWorker: a worker killed while the pool has nothing to run is replaced at
// once, as Python's pool does, not when the next task comes: Pids shows the new one.
func TestPoolReplacesIdleWorker(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 1})
	old, err := procs.Apply(t.Context(), p, pidOf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := testmain.Kill(old); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		if pids := p.Pids(); len(pids) == 1 && pids[0] != old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after the idle worker %d was killed, the workers are %v", old, p.Pids())
		}
	}
	if v, err := procs.Apply(t.Context(), p, pidOf, 0); err != nil || v == old {
		t.Fatalf("after the replacement: pid %d, %v", v, err)
	}
}

// MaxTasksPerWorker replaces a worker after that many tasks: the pids change.
func TestPoolRecyclesWorkers(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 1, MaxTasksPerWorker: 2})
	pids, err := procs.Map(t.Context(), p, pidOf, make([]int32, 7), procs.Chunk(1))
	if err != nil {
		t.Fatal(err)
	}
	per := map[int]int{}
	for _, pid := range pids {
		per[pid]++
	}
	if len(per) != 4 {
		t.Fatalf("7 tasks, 2 per worker: %d workers (%v)", len(per), pids)
	}
	for pid, n := range per {
		if n > 2 {
			t.Fatalf("pid %d ran %d tasks", pid, n)
		}
	}
}

var lateFn *procs.Fn[int, int]

func TestPoolBadInputs(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 1})
	lateFn = procs.Func(fmt.Sprintf("procs.late-%d", time.Now().UnixNano()), func(ctx context.Context, x int) (int, error) { return x, nil })
	if _, err := procs.Apply(t.Context(), p, lateFn, 1); !errors.Is(err, procs.ErrLateEntry) {
		t.Errorf("a Func registered after Main: %v", err)
	}
	if _, err := procs.Map(t.Context(), p, poolSquare, []int64{1}, procs.Chunk(-1)); err == nil {
		t.Error("a negative chunk")
	}
	if _, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 1, MaxTasksPerWorker: -1}); err == nil {
		t.Error("negative MaxTasksPerWorker")
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "cannot travel") {
				t.Errorf("a Func whose output is a chan: %v", r)
			}
		}()
		procs.Func("procs.chanOut", func(ctx context.Context, x int) (chan int, error) { return nil, nil })
	}()
	// An output that cannot be encoded at run time (an unregistered type in an interface) fails
	// its task with the reason, and the pool goes on.
	if _, err := procs.Apply(t.Context(), p, anyOut, 1); err == nil || !strings.Contains(err.Error(), "encoding") {
		t.Errorf("an output that cannot be encoded: %v", err)
	}
	if v, err := procs.Apply(t.Context(), p, poolSquare, 3); err != nil || v != 9 {
		t.Errorf("after it: %v %v", v, err)
	}
	if _, err := procs.Map(t.Context(), nil, poolSquare, []int64{1}); err == nil {
		t.Error("a nil pool")
	}
	if out, err := procs.Map(t.Context(), p, poolSquare, nil); err != nil || len(out) != 0 {
		t.Errorf("no inputs: %v %v", out, err)
	}
}

type unregistered struct{ X int }

var anyOut = procs.Func("procs.anyOut", func(ctx context.Context, x int) (any, error) { return unregistered{x}, nil })

// Cancelling a Map stops it at once; the worker running the abandoned task is replaced.
func TestPoolCancelAndTerminate(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	in := make([]time.Duration, 20)
	for i := range in {
		in[i] = time.Second
	}
	if _, err := procs.Map(ctx, p, slow, in, procs.Chunk(1)); !errors.Is(err, context.Canceled) || time.Since(start) > 3*time.Second {
		t.Fatalf("a cancelled Map: %v after %v", err, time.Since(start))
	}
	if v, err := procs.Apply(t.Context(), p, poolSquare, 4); err != nil || v != 16 {
		t.Fatalf("after the cancellation: %v %v", v, err)
	}
	f := procs.MapAsync(t.Context(), p, slow, in, procs.Chunk(1))
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	if err := p.Terminate(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(t.Context()); !errors.Is(err, procs.ErrPoolClosed) || time.Since(start) > 3*time.Second {
		t.Fatalf("work cut short by Terminate: %v after %v", err, time.Since(start))
	}
	if err := p.Join(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := procs.Apply(t.Context(), p, poolSquare, 1); !errors.Is(err, procs.ErrPoolClosed) {
		t.Fatalf("after Terminate: %v", err)
	}
}

// Close lets queued work finish, then the workers exit.
func TestPoolCloseFinishesWork(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2})
	f := procs.MapAsync(t.Context(), p, napEcho, []nap{{1, 100 * time.Millisecond}, {2, 100 * time.Millisecond}, {3, 100 * time.Millisecond}}, procs.Chunk(1))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := f.Get(t.Context()); err != nil || !slices.Equal(out, []int{1, 2, 3}) {
		t.Fatalf("work queued before Close: %v %v", out, err)
	}
	if len(p.Pids()) != 0 {
		t.Fatalf("workers left after Close: %v", p.Pids())
	}
}

type scaleArgs struct {
	Data *ctypes.RawArray[float64]
	By   float64
}

var scale = procs.Func("procs.scale", func(ctx context.Context, s procs.Span[scaleArgs]) (struct{}, error) {
	xs := s.Arg.Data.Slice()
	if s.Lo <= 500_000 && 500_000 < s.Hi && s.Arg.By < 0 {
		return struct{}{}, errors.New("negative factor")
	}
	for i := s.Lo; i < s.Hi; i++ {
		xs[i] *= s.Arg.By
	}
	return struct{}{}, nil
})

// ForRange works in place on a shared array passed in every span: anonymous and named.
// Elsewhere than Linux an anonymous segment cannot travel in a task (no descriptor passing to
// a running worker): ForRange says so with ErrNotSupported, and the named one works.
func TestPoolForRange(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2})
	const n = 1_000_003
	for _, named := range []bool{false, true} {
		var arr *ctypes.RawArray[float64]
		var err error
		if named {
			arr, err = ctypes.CreateRawArray[float64](testmain.Name(t), n)
		} else {
			arr, err = ctypes.NewRawArray[float64](n)
		}
		if err != nil {
			t.Fatal(err)
		}
		xs := arr.Slice()
		for i := range xs {
			xs[i] = float64(i)
		}
		if !named && runtime.GOOS != "linux" && runtime.GOOS != "windows" {
			err := procs.ForRange(t.Context(), p, scale, n, scaleArgs{Data: arr, By: 2})
			if !errors.Is(err, procs.ErrNotSupported) {
				t.Fatalf("an anonymous array in a task off Linux and Windows: %v, want ErrNotSupported", err)
			}
			_ = arr.Close()
			continue
		}
		for range 2 { // the second pass reuses the workers' mappings
			if err := procs.ForRange(t.Context(), p, scale, n, scaleArgs{Data: arr, By: 2}); err != nil {
				t.Fatal(err)
			}
		}
		for i, x := range xs {
			if x != 4*float64(i) {
				t.Fatalf("named=%v: xs[%d] = %v", named, i, x)
			}
		}
		err = procs.ForRange(t.Context(), p, scale, n, scaleArgs{Data: arr, By: -1}, procs.Chunk(1000))
		var te *procs.TaskError
		if !errors.As(err, &te) || te.Index != 500_000 {
			t.Fatalf("a failing span: %v", err)
		}
		_ = arr.Close()
		if named {
			_ = shm.Remove(testmain.Name(t))
		}
	}
}

// TestFaultPoolKillMidMap: a worker SIGKILLed at a random moment of a Map never hangs it: with
// Retries the Map completes with every output right; without, it fails with ErrWorkerDied or
// (the kill came between tasks) completes.
func TestFaultPoolKillMidMap(t *testing.T) {
	runs := max(testmain.FaultRuns()/10, 3)
	in := make([]nap, 40)
	for i := range in {
		in[i] = nap{i, 2 * time.Millisecond}
	}
	for _, retries := range []int{1, 0} {
		p := newPool(t, procs.PoolConfig{Workers: 2, Retries: retries})
		completed, died := 0, 0
		for range runs {
			// The worker killed last time is replaced in the background: wait for both (a
			// replacement by exec takes long under wine).
			var pids []int
			for deadline := time.Now().Add(20 * time.Second); len(pids) < 2; time.Sleep(time.Millisecond) {
				if pids = p.Pids(); time.Now().After(deadline) {
					t.Fatalf("retries %d: %d workers 20 s after a kill, want 2", retries, len(pids))
				}
			}
			f := procs.MapAsync(t.Context(), p, napEcho, in, procs.Chunk(1))
			time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
			_ = testmain.Kill(pids[rand.IntN(len(pids))])
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			out, err := f.Get(ctx)
			cancel()
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("retries %d: the Map hangs after a worker was killed", retries)
			case retries == 0 && errors.Is(err, procs.ErrWorkerDied):
				died++
				continue
			case err != nil:
				t.Fatalf("retries %d: %v", retries, err)
			}
			for i, v := range out {
				if v != i {
					t.Fatalf("retries %d: out[%d] = %d", retries, i, v)
				}
			}
			completed++
		}
		t.Logf("retries %d: %d completed, %d failed with ErrWorkerDied", retries, completed, died)
	}
}

var killSelf = procs.Func("procs.killSelf", func(ctx context.Context, _ int32) (int32, error) {
	_ = testmain.Kill(os.Getpid())
	time.Sleep(time.Hour)
	return 0, nil
})

// A task that kills every worker it touches stops after its retries, with the last death's
// error, and the pool goes on with fresh workers.
func TestPoolTaskThatKillsEveryWorker(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2, Retries: 2})
	before := p.Pids()
	_, err := procs.Apply(t.Context(), p, killSelf, 0)
	var died *procs.WorkerDiedError
	if !errors.As(err, &died) || died.ExitCode != -9 {
		t.Fatalf("a task that kills its worker: %v", err)
	}
	if v, err := procs.Apply(t.Context(), p, poolSquare, 6); err != nil || v != 36 {
		t.Fatalf("after it: %v %v", v, err)
	}
	after := p.Pids()
	for deadline := time.Now().Add(10 * time.Second); len(after) < 2 && time.Now().Before(deadline); after = p.Pids() {
		time.Sleep(time.Millisecond) // a replacement may still be starting
	}
	gone := 0
	for _, pid := range before {
		if !slices.Contains(after, pid) {
			gone++
		}
	}
	if len(after) != 2 || gone < 1 {
		t.Fatalf("workers before %v, after %v: the killed ones were not replaced", before, after)
	}
}

// Imap's failure waits for the outputs before it, as Python's imap yields them and then
// raises: a slow first input and a second that fails at once give the first output, then the
// error, even though the failure came in first.
func TestPoolImapFailureAfterEarlierOutputs(t *testing.T) {
	p := newPool(t, procs.PoolConfig{Workers: 2})
	// Both workers up and idle, so the two inputs run side by side.
	if _, err := procs.Map(t.Context(), p, napEcho, []nap{{0, 50 * time.Millisecond}, {1, 50 * time.Millisecond}}, procs.Chunk(1)); err != nil {
		t.Fatal(err)
	}
	var got []int
	var last error
	for v, err := range procs.Imap(t.Context(), p, napFail, []nap{{7, 300 * time.Millisecond}, {-1, 0}}, procs.Chunk(1)) {
		if err != nil {
			last = err
			continue
		}
		got = append(got, v)
	}
	var te *procs.TaskError
	if len(got) != 1 || got[0] != 7 || !errors.As(last, &te) || te.Index != 1 {
		t.Fatalf("Imap yielded %v, then %v", got, last)
	}
	if v, err := procs.Apply(t.Context(), p, poolSquare, 7); err != nil || v != 49 {
		t.Fatalf("after a failed Imap: %v %v", v, err)
	}
}

func TestNewFuture(t *testing.T) {
	f, settle := procs.NewFuture[int]()
	if f.Ready() || f.Successful() {
		t.Fatal("a Future ready before it was settled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := f.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get of an unsettled Future: %v", err)
	}
	settle(7, nil)
	if v, err := f.Get(context.Background()); v != 7 || err != nil || !f.Successful() {
		t.Errorf("Get = %d, %v", v, err)
	}
	g, settle := procs.NewFuture[int]()
	boom := errors.New("boom")
	settle(7, boom)
	if v, err := g.Get(context.Background()); v != 0 || err != boom || g.Successful() || !g.Ready() {
		t.Errorf("Get of a failed Future = %d, %v", v, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("settling twice did not panic")
		}
	}()
	settle(1, nil)
}
