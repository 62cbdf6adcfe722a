package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/shmkit/shmkit/internal/remote"
	"github.com/shmkit/shmkit/procs"
)

// A ServeOption tunes Serve.
type ServeOption func(*serveConfig)

type serveConfig struct {
	name        string
	pool        procs.PoolConfig
	concurrency int
	timeout     time.Duration
	nats        []nats.Option
}

// PoolName serves the pool of this name ("shmkit" if not given): Config.Name on the
// coordinator.
func PoolName(name string) ServeOption { return func(c *serveConfig) { c.name = name } }

// LocalPool configures the worker's local shm pool (procs.CPUCount() workers by default): its
// Workers, Init, MaxTasksPerWorker, Retries.
func LocalPool(cfg procs.PoolConfig) ServeOption { return func(c *serveConfig) { c.pool = cfg } }

// Concurrency is how many tasks the worker holds at once (four times the local pool's workers
// by default): enough that the local pool does not wait for the network between tasks (on the
// 2-vCPU test machine, 4× moved 1.6× the small tasks of 2× over loopback TCP, and ran
// CPU-bound ones 3% sooner), few enough that tasks do not queue in one worker while another
// idles at the end of a call.
func Concurrency(n int) ServeOption { return func(c *serveConfig) { c.concurrency = n } }

// ConnectTimeout bounds connecting to the server (5s by default).
func ConnectTimeout(d time.Duration) ServeOption { return func(c *serveConfig) { c.timeout = d } }

// NATSOptions adds nats.go options to the worker's connection (credentials, TLS).
func NATSOptions(opts ...nats.Option) ServeOption {
	return func(c *serveConfig) { c.nats = append(c.nats, opts...) }
}

// Serve makes this process a worker of a cluster pool: it connects to the NATS server at url,
// starts a local shm procs.Pool, and runs the tasks it takes from the pool's stream on it, so
// this host's cores are fed through shared memory and only tasks and results cross the
// network. It returns nil when ctx ends (within a second: its pull for tasks runs out first;
// the tasks it holds then go back to the stream at once, for another worker), or an error if
// it cannot connect or start its pool.
//
// The worker runs the procs.Funcs registered in this program, by name: run the same binary as
// the coordinator (or one that registers the same functions), with procs.Main first in main.
// A worker may start before its coordinator: it waits for the pool's stream to appear.
func Serve(ctx context.Context, url string, opts ...ServeOption) error {
	cfg := serveConfig{name: "shmkit", timeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkName(cfg.name); err != nil {
		return err
	}
	if url == "" {
		return fmt.Errorf("%w: Serve needs the server's URL", ErrConnect)
	}
	w, err := newWorker(ctx, url, cfg)
	if err != nil {
		return err
	}
	err = w.run(ctx)
	return errors.Join(err, w.close())
}

// A worker takes tasks from a pool's stream and runs them on its local shm pool.
type worker struct {
	cfg   serveConfig
	nc    *nats.Conn
	js    jetstream.JetStream
	pool  *procs.Pool
	label string // host:pid, for the coordinator's error messages
	id    string // for the coordinators' count of workers
}

func newWorker(ctx context.Context, url string, cfg serveConfig) (*worker, error) {
	opts := append([]nats.Option{nats.Name("shmkit worker " + cfg.name), nats.MaxReconnects(-1)}, cfg.nats...)
	nc, js, err := connect(ctx, url, cfg.timeout, opts)
	if err != nil {
		return nil, err
	}
	pool, err := procs.NewPool(ctx, cfg.pool)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if cfg.concurrency <= 0 {
		cfg.concurrency = 4 * pool.Workers()
	}
	host, _ := os.Hostname()
	return &worker{cfg: cfg, nc: nc, js: js, pool: pool, label: host + ":" + strconv.Itoa(os.Getpid()), id: nuid.Next()}, nil
}

func (w *worker) close() error {
	w.nc.Close()
	return w.pool.Close()
}

// run takes tasks until ctx ends, at most cfg.concurrency at a time.
func (w *worker) run(ctx context.Context) error {
	cons, err := w.consumer(ctx)
	if err != nil {
		return nil // ctx ended while waiting for the stream
	}
	ackWait := cons.CachedInfo().Config.AckWait
	stopAnnouncing, err := w.announce()
	if err != nil {
		return err
	}
	defer stopAnnouncing()
	slots := make(chan struct{}, w.cfg.concurrency)
	var running sync.WaitGroup
	defer running.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		n := 1
	more:
		for n < w.cfg.concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		// The pull runs to its own end, not ctx's: a pull abandoned when ctx ends can have tasks
		// on their way to it, and those would wait out AckWait before another worker got them.
		// What arrives after ctx ended goes back at once.
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(fetchWait))
		got := 0
		if err == nil {
			for m := range batch.Messages() {
				got++
				if ctx.Err() != nil {
					m.Nak()
					<-slots
					continue
				}
				running.Go(func() {
					defer func() { <-slots }()
					w.handle(ctx, m, ackWait)
				})
			}
			err = batch.Error()
		}
		for range n - got {
			<-slots
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound):
			if cons, err = w.consumer(ctx); err != nil {
				return nil
			}
		case err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout):
			sleep(ctx, 100*time.Millisecond) // a reconnect, say: do not spin
		}
	}
}

// fetchWait is how long a worker's pull for tasks waits for one: how long Serve may take to
// return after its context ends.
const fetchWait = time.Second

// announce tells the pool's coordinators this worker is here and how many local workers it
// has: at once, every helloEvery after, whenever a coordinator asks (a census), and with a
// goodbye when it stops. Coordinators size their automatic chunks by the count (Pool.Workers).
func (w *worker) announce() (stop func(), err error) {
	hello := func(n int) { w.nc.Publish(helloSubject(w.cfg.name), fmt.Appendf(nil, "%s %d", w.id, n)) }
	sub, err := w.nc.Subscribe(censusSubject(w.cfg.name), func(*nats.Msg) { hello(w.pool.Workers()) })
	if err != nil {
		return nil, err
	}
	hello(w.pool.Workers())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(helloEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				hello(w.pool.Workers())
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		sub.Unsubscribe()
		hello(0) // goodbye
		w.nc.FlushTimeout(time.Second)
	}, nil
}

// consumer waits for the pool's consumer (made by its first coordinator) and returns it.
func (w *worker) consumer(ctx context.Context) (jetstream.Consumer, error) {
	for {
		cons, err := w.js.Consumer(ctx, streamName(w.cfg.name), consumerName)
		if err == nil {
			return cons, nil
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// sleep waits d, or until ctx ends: false then.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// handle runs one task and publishes its result, then acknowledges it: a worker that dies
// before the acknowledgement leaves the task to be delivered again, and the coordinator keeps
// the first result of each task.
func (w *worker) handle(ctx context.Context, m jetstream.Msg, ackWait time.Duration) {
	h := m.Headers()
	reply := h.Get(hdrReply)
	if reply == "" {
		m.Term() // nobody to answer: not a task of ours
		return
	}
	res := nats.NewMsg(reply)
	res.Header.Set(hdrTask, h.Get(jetstream.MsgIDHeader))
	res.Header.Set(hdrWorker, w.label)
	if meta, err := m.Metadata(); err == nil {
		res.Header.Set(hdrDelivery, strconv.FormatUint(meta.NumDelivered, 10))
	}
	status, index := statusOK, 0
	name := h.Get(hdrFn)
	if fn, ok := remote.Lookup(name); !ok {
		status, res.Data = statusUnknown, []byte(name)
	} else {
		stop := keepAlive(m, ackWait)
		out, err := fn(ctx, w.pool, m.Data())
		stop()
		var text string
		switch {
		case ctx.Err() != nil:
			m.Nak() // shutting down: another worker takes it now, not after AckWait
			return
		case err != nil:
			status, index, text = failure(err)
			res.Data = []byte(text)
		case len(out) > int(w.nc.MaxPayload())-headroom:
			status, res.Data = statusTooBig, fmt.Appendf(nil, "outputs of %d bytes for %d-byte messages; use a smaller Chunk", len(out), w.nc.MaxPayload())
		default:
			res.Data = out
		}
	}
	res.Header.Set(hdrStatus, status)
	if index != 0 {
		res.Header.Set(hdrIndex, strconv.Itoa(index))
	}
	// The result and the acknowledgement go out on one connection, in that order, and the
	// server handles a connection's messages in order: it has routed the result before it
	// sees the acknowledgement, with no round trip to wait for in between. If the connection
	// drops between them, neither or only the result arrives, and the task comes back.
	if err := w.nc.PublishMsg(res); err != nil {
		m.Nak()
		return
	}
	m.Ack()
}

// keepAlive tells the server every ackWait/3 that m is still being worked on, so a long task
// is not handed to another worker; stop ends it.
func keepAlive(m jetstream.Msg, ackWait time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(ackWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.InProgress()
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
