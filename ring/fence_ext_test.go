package ring_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/fence"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
)

type sleepEchoArgs struct {
	In, Out *ring.Pipe
	N       int
}

// sleepEcho returns every record of In on Out, both ends sleeping on every wait. The modes
// are set behind SetWaitMode's back (ring.SleepQuietly), so the writers stay light (a
// Sleep-mode reader would ask them for full fences) and every sleep goes through fence.Heavy.
var sleepEcho = procs.Entry("ring.sleepEcho", func(ctx context.Context, a sleepEchoArgs) error {
	r, err := a.In.Reader()
	if err != nil {
		return err
	}
	w, err := a.Out.Writer()
	if err != nil {
		return err
	}
	ring.SleepQuietly(r, w)
	for range a.N {
		m, err := r.NextContext(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := w.SendContext(ctx, m); err != nil {
			return err
		}
	}
	return nil
})

// Writers that publish without a full fence (package fence) and readers that sleep on every
// wait, in two processes: a wake-up lost to a reordered store would leave a reader asleep
// until its check slice (50 ms) ran out, so no round trip may take that long.
func TestLightWriterWakesSleepingReader(t *testing.T) {
	needLight(t)
	ping, pong := newTestPipe(t), newTestPipe(t)
	w, _ := ping.Writer()
	r, _ := pong.Reader()
	ring.SleepQuietly(r, w)
	const rounds = 20000
	child, err := sleepEcho.Start(t.Context(), sleepEchoArgs{In: ping, Out: pong, N: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	round := func(i int) time.Duration {
		start := time.Now()
		if err := w.Send([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		m, err := r.Recv(nil)
		if err != nil || len(m) != 1 || m[0] != byte(i) {
			t.Fatalf("round %d: %v %v", i, m, err)
		}
		return time.Since(start)
	}
	// The child registers in the background (≈ 10 ms): echo until both writers are light.
	for deadline := time.Now().Add(2 * time.Second); ring.WriterLight(ping) != 1 ||
		ring.WriterLight(pong) != 1; round(0) {
		if time.Now().After(deadline) {
			t.Fatalf("writers not light after 2 s: this side %d, the child %d",
				ring.WriterLight(ping), ring.WriterLight(pong))
		}
	}
	var slowest time.Duration
	for i := range rounds {
		slowest = max(slowest, round(i))
	}
	if slowest >= 40*time.Millisecond {
		t.Errorf("slowest of %d round trips took %v: a wake-up was lost", rounds, slowest)
	}
	_ = w.Close() // the child's Next: io.EOF
	if err := child.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func newTestPipe(t *testing.T) *ring.Pipe {
	p, err := ring.NewPipe(ring.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// A reader set to Sleep asks the writer for full fences; the writer drops its light stores
// at its next Commit and takes them up again once the reader leaves Sleep.
func TestSleepModeReaderAsksForFullFences(t *testing.T) {
	needLight(t)
	p := newTestPipe(t)
	w, _ := p.Writer()
	r, _ := p.Reader()
	light := func() uint32 { return ring.WriterLight(p) }
	pass := func() {
		if err := w.Send([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Recv(nil); err != nil {
			t.Fatal(err)
		}
	}
	pass()
	if light() != 1 || !ring.IsLight(w) {
		t.Fatal("a registered writer is not light")
	}
	r.SetWaitMode(ring.Sleep)
	pass()
	if light() != 0 || ring.IsLight(w) {
		t.Fatal("the writer stayed light for a Sleep-mode reader")
	}
	r.SetWaitMode(ring.SpinThenSleep)
	pass()
	if light() != 1 || !ring.IsLight(w) {
		t.Fatal("the writer did not go light again")
	}
}

// needLight waits for this process to be registered with membarrier, or skips the test.
func needLight(t *testing.T) {
	fence.Prepare()
	for deadline := time.Now().Add(2 * time.Second); !fence.Light(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Skip("no membarrier here, or a race build: writers always use a full fence")
		}
	}
}
