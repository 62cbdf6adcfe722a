package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/shmkit/shmkit/internal/pidinfo"
	"github.com/shmkit/shmkit/procs"
)

// Config configures NewPool. The zero value starts an embedded NATS server in this process,
// reachable only from it, and a local shm pool of procs.CPUCount() workers that serves it: the
// laptop case, with the same code as the cluster case.
type Config struct {
	// URL is the NATS server (or comma-separated cluster seeds) to use, for example
	// "nats://10.0.0.5:4222". Empty: start an embedded server with JetStream in this process,
	// its store in a temporary directory that Close removes.
	URL string
	// Listen, with no URL, makes the embedded server accept workers on this TCP address
	// ("127.0.0.1:4222"; port 0 picks a free one, see Pool.URL). Empty: in-process only.
	Listen string
	// Name is the pool's name: coordinators and workers with the same name on one NATS share
	// the work ("shmkit" if empty; letters, digits, '-' and '_').
	Name string
	// LocalWorkers is how many local shm pool workers this process runs to serve the pool itself.
	// 0 means procs.CPUCount() when the pool has no URL and no Listen (nothing else could
	// serve it) and none otherwise; a negative number means none.
	LocalWorkers int
	// AckWait is how long a task may go unacknowledged before JetStream hands it to another
	// worker (30s if 0). A worker running a long task tells the server so every AckWait/3,
	// so it bounds how long a dead worker host's tasks wait, not how long a task may run.
	AckWait time.Duration
	// MaxDeliver bounds the deliveries of one task (5 if 0); a task that reaches it fails with
	// ErrMaxDeliver.
	MaxDeliver int
	// ConnectTimeout bounds connecting to URL (5s if 0).
	ConnectTimeout time.Duration
	// Options are extra nats.go options for the coordinator's connection (credentials, TLS).
	Options []nats.Option
}

func (c *Config) fill() error {
	if c.Name == "" {
		c.Name = "shmkit"
	}
	if err := checkName(c.Name); err != nil {
		return err
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	switch {
	case c.AckWait < 0 || c.MaxDeliver < 0 || c.ConnectTimeout < 0:
		return fmt.Errorf("cluster: negative AckWait, MaxDeliver or ConnectTimeout")
	case c.URL != "" && c.Listen != "":
		return fmt.Errorf("cluster: Listen is for the embedded server, and URL names another")
	case c.LocalWorkers == 0 && c.URL == "" && c.Listen == "":
		c.LocalWorkers = procs.CPUCount()
	}
	return nil
}

// checkName accepts what can stand in a subject and a stream name.
func checkName(name string) error {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("cluster: pool name %q: only letters, digits, '-' and '_'", name)
		}
	}
	return nil
}

// A Pool runs registered procs.Funcs on worker processes anywhere on a NATS cluster: a
// procs.Pool whose tasks travel over a JetStream work-queue stream. Use it with this package's
// Map, Imap, ImapUnordered, Apply and ApplyAsync, which mirror procs's.
type Pool struct {
	cfg     Config
	srv     *server.Server // the embedded server, or nil
	dir     string         // its store directory, removed at Close
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	inbox   string // where results come back
	subject string // where tasks go
	id      string // prefix of this coordinator's task IDs
	subs    []*nats.Subscription
	local   *worker // the in-process worker serving the pool, or nil
	stop    context.CancelFunc
	served  chan error
	seq     atomic.Uint64

	closing chan struct{} // closed by Close: a publish waiting for the server gives up

	mu      sync.Mutex
	tasks   map[string]*task // out, by ID
	bySeq   map[uint64]*task // out, by stream sequence, once the stream has acknowledged them
	closed  bool
	stats   Stats
	payload int                 // the server's maximum payload
	workers map[string]presence // worker hosts heard from, by ID
}

// presence is what a worker host last said of itself.
type presence struct {
	workers int
	at      time.Time
}

// Stats counts what a Pool's results did, for tests and monitoring.
type Stats struct {
	Tasks       int // tasks published
	Results     int // results accepted, one per task
	Dropped     int // results dropped: their task was decided already (a redelivery's second result, or a call that had ended)
	Redelivered int // accepted results that came from a second or later delivery
}

// A task is one chunk out, waiting for its result.
type task struct {
	id    string
	seq   uint64 // its stream sequence, 0 until the publish is acknowledged
	index int    // its place among its call's tasks
	base  int    // index of its first input in the call's inputs
	n     int    // its inputs
	done  chan<- outcome
}

// An outcome is what a task came to: its result message, or an error decided here.
type outcome struct {
	t   *task
	msg *nats.Msg
	err error
}

// NewPool connects to cfg.URL (or starts an embedded server), makes sure the pool's stream and
// its workers' consumer exist, and starts the local workers, if any. ctx bounds the start.
func NewPool(ctx context.Context, cfg Config) (*Pool, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, id: nuid.Next(), closing: make(chan struct{}), subject: taskSubject(cfg.Name),
		tasks: map[string]*task{}, bySeq: map[uint64]*task{}, workers: map[string]presence{}}
	if err := p.start(ctx); err != nil {
		p.shutdown()
		return nil, err
	}
	return p, nil
}

func (p *Pool) start(ctx context.Context) error {
	cfg := p.cfg
	if cfg.URL == "" {
		if err := p.embed(); err != nil {
			return err
		}
	}
	url, opts := p.endpoint(nats.Name("shmkit coordinator " + cfg.Name))
	// Last, so that no handler in Config.Options replaces it: results sent while away are lost.
	opts = append(opts, nats.DisconnectErrHandler(func(*nats.Conn, error) { p.failAll(ErrDisconnected) }))
	var err error
	if p.nc, p.js, err = connect(ctx, url, cfg.ConnectTimeout, opts); err != nil {
		return err
	}
	p.payload = int(p.nc.MaxPayload())
	if err := p.setUp(ctx); err != nil {
		return err
	}
	if cfg.LocalWorkers > 0 {
		return p.serveLocally(ctx)
	}
	return nil
}

// setUp makes the stream, the workers' consumer and the subscriptions, within ConnectTimeout.
func (p *Pool) setUp(ctx context.Context) error {
	cfg := p.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	var err error
	p.stream, err = p.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       streamName(cfg.Name),
		Subjects:   []string{taskSubject(cfg.Name)},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.MemoryStorage,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("%w: making stream %s: %v", ErrConnect, streamName(cfg.Name), err)
	}
	_, err = p.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       consumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: 100_000,
	})
	if err != nil {
		return fmt.Errorf("cluster: making the workers' consumer: %v", err)
	}
	p.inbox = "shmkit." + cfg.Name + ".results." + p.id
	for subject, h := range map[string]nats.MsgHandler{p.inbox: p.onResult, maxDeliverAdvisory(cfg.Name): p.onMaxDeliver,
		helloSubject(cfg.Name): p.onHello} {
		sub, err := p.nc.Subscribe(subject, h)
		if err != nil {
			return err
		}
		p.subs = append(p.subs, sub)
		if err := sub.SetPendingLimits(-1, -1); err != nil { // never drop a result
			return err
		}
	}
	if err := p.nc.Publish(censusSubject(cfg.Name), nil); err != nil { // workers already there, say so
		return err
	}
	return p.nc.FlushWithContext(ctx)
}

// embed starts the embedded server, with JetStream, its store in a new temporary directory
// named for this process (shmkit-nats-<pid>-<start time>-<random>), after removing those of
// coordinators that died before their Close.
func (p *Pool) embed() error {
	reclaimStores()
	pid, start := pidinfo.Self()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-%d-", storePrefix, pid, start))
	if err != nil {
		return err
	}
	p.dir = dir
	opts := &server.Options{ServerName: "shmkit-" + p.id, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
		DontListen: p.cfg.Listen == ""}
	if p.cfg.Listen != "" {
		host, port, err := net.SplitHostPort(p.cfg.Listen)
		if err != nil {
			return fmt.Errorf("cluster: Listen %q: %v", p.cfg.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil || opts.Port < 0 || opts.Port > 65535 {
			return fmt.Errorf("cluster: Listen %q: bad port", p.cfg.Listen)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("cluster: embedded NATS server: %v", err)
	}
	p.srv = srv
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("cluster: embedded NATS server did not start (listening on %q)", p.cfg.Listen)
	}
	return nil
}

const storePrefix = "shmkit-nats-"

// reclaimStores removes the store directories of embedded servers whose process is gone (a
// coordinator killed before Close); a directory whose name it cannot read is left alone.
func reclaimStores() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), storePrefix+"*"))
	for _, dir := range dirs {
		var pid int
		var start uint64
		if _, err := fmt.Sscanf(filepath.Base(dir), storePrefix+"%d-%d-", &pid, &start); err != nil {
			continue
		}
		if !pidinfo.Alive(pid, start) {
			os.RemoveAll(dir)
		}
	}
}

// connect dials url within timeout (or ctx's deadline, if sooner) and checks it has JetStream.
func connect(ctx context.Context, url string, timeout time.Duration, opts []nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if timeout <= 0 {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrConnect, url, context.DeadlineExceeded)
	}
	nc, err := nats.Connect(url, append(opts, nats.Timeout(timeout))...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrConnect, url, err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		actx, cancel := context.WithTimeout(ctx, timeout)
		_, err = js.AccountInfo(actx)
		cancel()
	}
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%w: %s: JetStream: %v", ErrConnect, url, err)
	}
	return nc, js, nil
}

// endpoint returns where a connection of this process to the pool's server goes, and its
// options: own, then Config.Options, then the in-process connection to an embedded server
// that does not listen.
func (p *Pool) endpoint(own ...nats.Option) (url string, opts []nats.Option) {
	url, opts = p.URL(), append(own, p.cfg.Options...)
	if url == "" {
		opts = append(opts, nats.InProcessServer(p.srv))
	}
	return url, opts
}

// serveLocally runs a worker in this process, on its own connection to the same server.
func (p *Pool) serveLocally(ctx context.Context) error {
	url, opts := p.endpoint(nats.Name("shmkit local worker " + p.cfg.Name))
	w, err := newWorker(ctx, url, serveConfig{name: p.cfg.Name, pool: procs.PoolConfig{Workers: p.cfg.LocalWorkers}, timeout: p.cfg.ConnectTimeout, nats: opts})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(context.Background())
	p.local, p.stop, p.served = w, stop, make(chan error, 1)
	p.mu.Lock()
	p.workers[w.id] = presence{workers: w.pool.Workers(), at: time.Now()} // before its first hello
	p.mu.Unlock()
	go func() { p.served <- w.run(sctx) }()
	return nil
}

// URL returns the address workers connect to: the embedded server's when it listens, the
// configured URL otherwise, and "" for an in-process-only embedded server.
func (p *Pool) URL() string {
	switch {
	case p.cfg.URL != "":
		return p.cfg.URL
	case p.srv != nil && p.cfg.Listen != "":
		return p.srv.ClientURL()
	}
	return ""
}

// Workers returns how many local pool workers the worker hosts serving the pool have, in
// all: the sum of what each host heard from in the last few seconds said. Automatic chunks
// are sized by it, four per worker, as procs's are; 0 until a worker has said hello.
func (p *Pool) Workers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for id, w := range p.workers {
		if time.Since(w.at) > helloExpiry {
			delete(p.workers, id)
			continue
		}
		n += w.workers
	}
	return n
}

// onHello records a worker host's hello (or, with 0 workers, its goodbye).
func (p *Pool) onHello(m *nats.Msg) {
	var id string
	var n int
	if _, err := fmt.Sscanf(string(m.Data), "%s %d", &id, &n); err != nil || n < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n == 0 {
		delete(p.workers, id)
		return
	}
	p.workers[id] = presence{workers: n, at: time.Now()}
}

// Name returns the pool's name, which its workers must be given.
func (p *Pool) Name() string { return p.cfg.Name }

// Stats returns the counts so far.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// String describes the pool for fmt: cluster.Pool(shmkit on nats://127.0.0.1:4222, 3 tasks out).
func (p *Pool) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	where := p.URL()
	if where == "" {
		where = "an in-process server"
	}
	if p.closed {
		return fmt.Sprintf("cluster.Pool(%s on %s, closed)", p.cfg.Name, where)
	}
	return fmt.Sprintf("cluster.Pool(%s on %s, %d tasks out)", p.cfg.Name, where, len(p.tasks))
}

// Close fails the calls still waiting with procs.ErrPoolClosed, withdraws their tasks, stops
// the local workers, closes the connection and, for an embedded server, shuts it down and
// removes its store. Remote workers keep running: they serve whichever coordinator comes next.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return procs.ErrPoolClosed
	}
	p.closed = true // from here publish takes no task, so failAll sees every one
	p.mu.Unlock()
	close(p.closing)
	p.failAll(procs.ErrPoolClosed)
	return p.shutdown()
}

// shutdown releases what start made, in reverse.
func (p *Pool) shutdown() error {
	var errs []error
	if p.local != nil {
		p.stop()
		errs = append(errs, <-p.served)
		errs = append(errs, p.local.close())
	}
	for _, s := range p.subs {
		s.Unsubscribe()
	}
	if p.nc != nil {
		p.nc.Close()
	}
	if p.srv != nil {
		p.srv.Shutdown()
		p.srv.WaitForShutdown()
	}
	if p.dir != "" {
		errs = append(errs, os.RemoveAll(p.dir))
	}
	return errors.Join(errs...)
}

// publish sends the tasks of one call (their inputs already encoded) and registers them, so
// their results find their way to done. It returns once the server has them all.
func (p *Pool) publish(ctx context.Context, fn string, ts []*task, bodies [][]byte) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return procs.ErrPoolClosed
	}
	for _, t := range ts {
		t.id = p.id + "." + strconv.FormatUint(p.seq.Add(1), 10)
		p.tasks[t.id] = t
	}
	p.stats.Tasks += len(ts)
	p.mu.Unlock()
	futures := make([]jetstream.PubAckFuture, len(ts))
	for i, t := range ts {
		m := nats.NewMsg(p.subject)
		m.Header.Set(jetstream.MsgIDHeader, t.id)
		m.Header.Set(hdrFn, fn)
		m.Header.Set(hdrReply, p.inbox)
		m.Data = bodies[i]
		f, err := p.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("cluster: publishing a task: %v", err)
		}
		futures[i] = f
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			p.mu.Lock()
			if _, out := p.tasks[ts[i].id]; out {
				ts[i].seq = ack.Sequence
				p.bySeq[ack.Sequence] = ts[i]
			}
			p.mu.Unlock()
		case err := <-f.Err():
			return fmt.Errorf("cluster: publishing a task: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-p.closing: // its connection closes, and nats.go fails no future then
			return procs.ErrPoolClosed
		}
	}
	return nil
}

// withdraw forgets tasks whose call has ended and deletes those not yet taken from the stream
// (the ones a worker runs now finish, and their results are dropped).
func (p *Pool) withdraw(ts []*task) { p.settle(ts, nil) }

// settle decides the tasks of ts still out: with err, if not nil, as their outcome; and
// deletes them from the stream.
func (p *Pool) settle(ts []*task, err error) {
	var seqs []uint64
	for _, t := range ts {
		p.mu.Lock()
		out := p.forgetLocked(t)
		p.mu.Unlock()
		if !out {
			continue
		}
		if err != nil {
			t.done <- outcome{t: t, err: err}
		}
		if t.seq != 0 {
			seqs = append(seqs, t.seq)
		}
	}
	p.deleteTasks(seqs)
}

// forgetLocked takes t off the tasks out, and reports whether it was out (a result, an
// advisory, a failure or a withdrawal: whichever comes first decides the task). p.mu is held.
func (p *Pool) forgetLocked(t *task) bool {
	if _, out := p.tasks[t.id]; !out {
		return false
	}
	delete(p.tasks, t.id)
	delete(p.bySeq, t.seq)
	return true
}

// deleteTasks deletes tasks from the stream by sequence. Deleting one a worker has taken and
// acknowledged fails, harmlessly.
func (p *Pool) deleteTasks(seqs []uint64) {
	if len(seqs) == 0 || !p.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range seqs {
		p.stream.DeleteMsg(ctx, s)
	}
}

// onResult takes a result in: the first for its task is passed on, later ones (a redelivered
// task's second result) are dropped.
func (p *Pool) onResult(m *nats.Msg) {
	id := m.Header.Get(hdrTask)
	p.mu.Lock()
	t := p.tasks[id]
	if t == nil || !p.forgetLocked(t) {
		p.stats.Dropped++
		p.mu.Unlock()
		return
	}
	p.stats.Results++
	if d, _ := strconv.Atoi(m.Header.Get(hdrDelivery)); d > 1 {
		p.stats.Redelivered++
	}
	p.mu.Unlock()
	t.done <- outcome{t: t, msg: m}
}

// onMaxDeliver fails the task JetStream gave up on, and deletes it from the stream (a
// work-queue stream keeps a message until it is acknowledged).
func (p *Pool) onMaxDeliver(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if json.Unmarshal(m.Data, &adv) != nil {
		return
	}
	p.mu.Lock()
	t := p.bySeq[adv.StreamSeq]
	out := t != nil && p.forgetLocked(t)
	p.mu.Unlock()
	if !out {
		return
	}
	go p.deleteTasks([]uint64{adv.StreamSeq}) // not on the connection's dispatch goroutine
	t.done <- outcome{t: t, err: fmt.Errorf("%w: %d deliveries (inputs %d to %d)", ErrMaxDeliver, adv.Deliveries, t.base, t.base+t.n-1)}
}

// failAll fails every task out with err, and deletes them from the stream.
func (p *Pool) failAll(err error) {
	p.mu.Lock()
	ts := make([]*task, 0, len(p.tasks))
	for _, t := range p.tasks {
		ts = append(ts, t)
	}
	p.mu.Unlock()
	p.settle(ts, err)
}
