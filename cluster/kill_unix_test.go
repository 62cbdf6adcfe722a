//go:build unix

package cluster_test

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/cluster"
	"github.com/shmkit/shmkit/procs"
)

// hostKiller kills the cluster worker that runs it (and so itself, by its lifeline).
var hostKiller = procs.Func("cluster-kill-host", func(ctx context.Context, x int) (int, error) {
	syscall.Kill(os.Getppid(), syscall.SIGKILL)
	time.Sleep(time.Hour)
	return 0, nil
})

// slowCall starts 30 tasks of 200 ms (10 inputs each, negated) on two worker processes of one
// local worker each, lets them run 0.7 s, and returns the call, the workers, and a check of
// the call's outputs.
func slowCall(t *testing.T, p *cluster.Pool) (f *procs.Future[[]int64], ws []*procs.Process, check func()) {
	ws = workers(t, p.URL(), 2)
	ctx := ctxFor(t, time.Minute)
	in := make([]int64, 300)
	for i := range in {
		in[i] = int64(i)
	}
	f = cluster.MapAsync(ctx, p, slow, in, procs.Chunk(10))
	time.Sleep(700 * time.Millisecond)
	return f, ws, func() {
		t.Helper()
		out, err := f.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range in {
			if out[i] != -x {
				t.Fatalf("out[%d] = %d, want %d", i, out[i], -x)
			}
		}
	}
}

// A worker killed while it holds tasks: they are delivered to the other after AckWait.
func TestWorkerKilledMidRun(t *testing.T) {
	p := coordinator(t, cluster.Config{AckWait: time.Second})
	_, ws, check := slowCall(t, p)
	if err := ws[0].Kill(); err != nil {
		t.Fatal(err)
	}
	check()
	if s := p.Stats(); s.Redelivered == 0 || s.Results != s.Tasks {
		t.Errorf("stats %+v: want redelivered tasks, and exactly one result for each task", s)
	}
}

func TestMaxDeliver(t *testing.T) {
	p := coordinator(t, cluster.Config{AckWait: 500 * time.Millisecond, MaxDeliver: 2})
	workers(t, p.URL(), 2)
	ctx := ctxFor(t, time.Minute)
	_, err := cluster.Apply(ctx, p, hostKiller, 1)
	if !errors.Is(err, cluster.ErrMaxDeliver) {
		t.Fatalf("a task that kills every worker that takes it: %v, want ErrMaxDeliver", err)
	}
}

// A worker stopped (SIGSTOP) while it holds tasks has them redelivered to the other; when it
// resumes, it finishes them too, and its results, second for their tasks, are dropped while
// the call still runs.
func TestStoppedWorkerResultsDropped(t *testing.T) {
	p := coordinator(t, cluster.Config{AckWait: time.Second})
	f, ws, check := slowCall(t, p)
	if err := syscall.Kill(ws[0].Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Stopped past AckWait, its tasks go to the other worker, which has most of the call's
	// still to run when this one resumes and sends its own results for them.
	time.Sleep(2500 * time.Millisecond)
	if f.Ready() {
		t.Fatal("the call ended while a worker was stopped: make its tasks longer")
	}
	if err := syscall.Kill(ws[0].Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	check()
	if s := p.Stats(); s.Redelivered == 0 || s.Dropped == 0 || s.Results != s.Tasks {
		t.Errorf("stats %+v: want redelivered tasks, the stopped worker's late results dropped, and one result for each task", s)
	}
}
