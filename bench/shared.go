package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/sem"
)

func init() { groups = append(groups, sharedScenarios) }

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func sharedScenarios() []Scenario {
	return []Scenario{
		{Name: "mutex_uncontended", Unit: "ns", Goal: "within 2x of sync.Mutex (floor)",
			Note:  "Lock then Unlock, one process, nobody else wanting the lock; each sample is the mean of 1000 pairs. floor: sync.Mutex; cpython: multiprocessing.Lock acquire/release",
			Impls: []Impl{{Shmkit, mutexUncontended}, pyLatency(200_000, "lock_ns"), {Floor, syncMutexUncontended}}},
		{Name: "mutex_contended_2proc", Unit: "ops/s", Higher: true, Goal: "near the floor",
			Note:  "two processes each lock, add to a counter in shared memory and unlock, as fast as they can; the counter is checked. cpython: multiprocessing.Lock around a Value(lock=False), a twentieth of the adds; floor: sync.Mutex, two goroutines of one process",
			Impls: []Impl{{Shmkit, mutexContended}, pyRate(2_000_000/cpythonFewer, "mutex_contended"), {Floor, syncMutexContended}}},
		{Name: "value_add_2proc", Unit: "ns", Goal: "near the floor",
			Note:  "two processes add 1 to a ctypes.Value[int64] at once (atomic Add); the sum is checked; the figure is the wall time per add over both. cpython: Value('q') under its get_lock(), a fiftieth of the adds; floor: sync/atomic in two goroutines",
			Impls: []Impl{{Shmkit, valueAdd}, pyLatency(5_000_000/50, "value_add"), {Floor, atomicAdd}}},
		{Name: "map_get", Unit: "ops/s", Higher: true, Goal: "≥ 10 M/s",
			Note:  "Get of 64-byte values under 16 K keys, one process. cpython: Manager().dict() (a server process); floor: Go map under sync.RWMutex",
			Impls: []Impl{{Shmkit, mapOps(100)}, pyRate(20_000, "dict_get"), {Floor, goMapOps(100)}}},
		{Name: "map_set", Unit: "ops/s", Higher: true, Goal: "≥ 3 M/s",
			Note:  "Set of 64-byte values over 16 K keys, one process; same baselines",
			Impls: []Impl{{Shmkit, mapOps(0)}, pyRate(20_000, "dict_set"), {Floor, goMapOps(0)}}},
		{Name: "map_mix_98get", Unit: "ops/s", Higher: true, Goal: "near map_get",
			Note:  "98% Get, 2% Set, one process; cpython: Manager().dict(); floor: Go map under sync.RWMutex",
			Impls: []Impl{{Shmkit, mapOps(98)}, pyRate(20_000, "dict_mix"), {Floor, goMapOps(98)}}},
		{Name: "sem_handoff_rtt", Unit: "ns", Goal: "within 1.5x floor_futex_rtt",
			Note: "two processes hand a turn back and forth through two sem.Semaphores (Release one, Acquire the other); os-pipe and unix-socket: a 16-byte token written and read back; cpython: two multiprocessing.Semaphores, a twentieth of the rounds; go-chan: two goroutines over unbuffered channels",
			Impls: []Impl{{Shmkit, semHandoff}, {GoChan, func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
				return 0, chanPingPong(16, o.scale(50_000), h)
			}}, handoffOver(OSPipe), handoffOver(UnixSocket), pyLatency(50_000/cpythonFewer, "sem_handoff")}},
		{Name: "mpmc_2p2c_64B_throughput", Unit: "msg/s", Higher: true, Goal: "≥ 0.5x go-chan, ≥ 10x boost (issue 14)",
			Note:  "two producer processes and two consumer processes share one ring.Queue of 64-byte messages; every message is counted and its sequence number summed; go-chan: 2+2 goroutines on a channel of 1024; unix-socket: one SOCK_SEQPACKET pair, its ends shared by the producers and by the consumers, a message a datagram; boost: Boost.Interprocess message_queue (4096 slots), 2+2 processes forked by bench/boost/peer.cpp; cpython: multiprocessing.Queue(1024), 2+2 processes, a fiftieth of the messages",
			Impls: []Impl{{Shmkit, mpmcBatched(1)}, {GoChan, chanMPMC}, {UnixSocket, socketMPMC}, boostMPMC(64, 1_000_000), pyRate(1_000_000/50, "mpmc")}},
		{Name: "mpmc_2p2c_64B_batch32_throughput", Unit: "msg/s", Higher: true, Goal: "≥ 1x go-chan's per-message rate, ≥ 10x boost (issue 14)",
			Note:  "mpmc_2p2c_64B_throughput with the producers putting and the consumers getting 32 messages a call (PutBatch, GetBatch: one claim of many slots); go-chan: the same 2+2 goroutines, a message at a time; boost: as in mpmc_2p2c_64B_throughput, a message at a time (message_queue has no batch call)",
			Impls: []Impl{{Shmkit, mpmcBatched(32)}, {GoChan, chanMPMC}, boostMPMC(64, 1_000_000)}},
	}
}

// sample records, per sample, the mean time of batch calls of op.
func sample(h *hdrhistogram.Histogram, samples, batch int, op func() error) error {
	for range samples {
		t := time.Now()
		for range batch {
			if err := op(); err != nil {
				return err
			}
		}
		_ = h.RecordValue(max(1, time.Since(t).Nanoseconds()/int64(batch)))
	}
	return nil
}

func mutexUncontended(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
	m, err := sem.NewMutex()
	if err != nil {
		return 0, err
	}
	defer m.Close()
	return 0, sample(h, o.scale(2000), 1000, func() error {
		if err := m.Lock(); err != nil {
			return err
		}
		return m.Unlock()
	})
}

func syncMutexUncontended(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
	var m sync.Mutex
	return 0, sample(h, o.scale(2000), 1000, func() error {
		m.Lock()
		m.Unlock() //nolint:staticcheck // the empty critical section is what is measured
		return nil
	})
}

type counterArgs struct {
	Mutex *sem.SharedMutex        // set: add to Plain under it
	Plain *ctypes.RawArray[int64] // one counter, in plain shared memory
	Value *ctypes.Value[int64]    // otherwise: Value.Add
	Line  startLine
	N     int
}

// counter is one of the two processes of mutex_contended_2proc and value_add_2proc: it waits
// for the start, then adds N times, under the mutex (Mutex set) or atomically.
var counter = procs.Entry("bench.counter", func(ctx context.Context, a counterArgs) error {
	if err := a.Line.arrive(ctx); err != nil {
		return err
	}
	return countUp(a)
})

func countUp(a counterArgs) error {
	for range a.N {
		if a.Mutex != nil {
			if err := a.Mutex.Lock(); err != nil {
				return err
			}
			a.Plain.Slice()[0]++
			if err := a.Mutex.Unlock(); err != nil {
				return err
			}
			continue
		}
		if _, err := a.Value.Add(1); err != nil {
			return err
		}
	}
	return nil
}

// twoCounters runs countUp in a child and here at once and returns the wall time.
func twoCounters(ctx context.Context, withMutex bool, n int) (time.Duration, error) {
	v, err := ctypes.NewValue[int64](0)
	if err != nil {
		return 0, err
	}
	defer v.Close()
	line, err := newStartLine()
	if err != nil {
		return 0, err
	}
	defer line.close()
	a := counterArgs{Value: v, Line: line, N: n}
	if withMutex {
		if a.Mutex, err = sem.NewMutex(); err != nil {
			return 0, err
		}
		defer a.Mutex.Close()
		if a.Plain, err = ctypes.NewRawArray[int64](1); err != nil {
			return 0, err
		}
		defer a.Plain.Close()
	}
	child, err := counter.Start(ctx, a)
	if err != nil {
		return 0, err
	}
	t, err := line.release(ctx, 1)
	if err != nil {
		return 0, err
	}
	err = countUp(a)
	werr := child.WaitContext(ctx)
	d := time.Since(t)
	if err = errors.Join(err, werr); err != nil {
		return 0, err
	}
	got, _ := v.Load()
	if withMutex {
		got = a.Plain.Slice()[0]
	}
	if got != int64(2*n) {
		return 0, fmt.Errorf("the counter reads %d after 2 x %d adds", got, n)
	}
	return d, nil
}

func mutexContended(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
	n := o.scale(2_000_000)
	d, err := twoCounters(ctx, true, n)
	return rate(2*n, d), err
}

func syncMutexContended(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
	n := o.scale(2_000_000)
	var m sync.Mutex
	var c int64
	var wg sync.WaitGroup
	t := time.Now()
	for range 2 {
		wg.Go(func() {
			for range n {
				m.Lock()
				c++
				m.Unlock()
			}
		})
	}
	wg.Wait()
	if c != int64(2*n) {
		return 0, fmt.Errorf("counter %d", c)
	}
	return rate(2*n, time.Since(t)), nil
}

func valueAdd(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
	n := o.scale(5_000_000)
	d, err := twoCounters(ctx, false, n)
	if err == nil {
		_ = h.RecordValue(max(1, d.Nanoseconds()/int64(2*n)))
	}
	return 0, err
}

func atomicAdd(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
	n := o.scale(5_000_000)
	var c atomic.Int64
	var wg sync.WaitGroup
	t := time.Now()
	for range 2 {
		wg.Go(func() {
			for range n {
				c.Add(1)
			}
		})
	}
	wg.Wait()
	if c.Load() != int64(2*n) {
		return 0, fmt.Errorf("counter %d", c.Load())
	}
	_ = h.RecordValue(max(1, time.Since(t).Nanoseconds()/int64(2*n)))
	return 0, nil
}

const mapKeys = 16 << 10

func key(buf []byte, i int) []byte {
	buf = append(buf[:0], "key-"...)
	return binary.LittleEndian.AppendUint64(buf, uint64(i%mapKeys))
}

// mapOps measures getPct% gets and the rest sets on a ctypes.Map filled with mapKeys keys.
func mapOps(getPct int) func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
	return func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
		m, err := ctypes.NewMap(ctypes.MapConfig{Capacity: 2 * mapKeys, KeyMax: 16, ValueMax: 64})
		if err != nil {
			return 0, err
		}
		defer m.Close()
		val := make([]byte, 64)
		var kb []byte
		for i := range mapKeys {
			binary.LittleEndian.PutUint64(val, uint64(i))
			if err := m.Set(key(kb, i), val); err != nil {
				return 0, err
			}
		}
		n := o.scale(2_000_000)
		buf := make([]byte, 64)
		t := time.Now()
		for i := range n {
			kb = key(kb, i)
			if i%100 < getPct {
				got, ok, err := m.Get(kb, buf)
				if err != nil || !ok || len(got) != 64 || binary.LittleEndian.Uint64(got)%mapKeys != uint64(i%mapKeys) {
					return 0, fmt.Errorf("get %d: %v %v", i, ok, err)
				}
				continue
			}
			binary.LittleEndian.PutUint64(val, uint64(i))
			if err := m.Set(kb, val); err != nil {
				return 0, err
			}
		}
		return rate(n, time.Since(t)), nil
	}
}

func goMapOps(getPct int) func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
	return func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
		var mu sync.RWMutex
		m := map[string][]byte{}
		var kb []byte
		for i := range mapKeys {
			val := make([]byte, 64)
			binary.LittleEndian.PutUint64(val, uint64(i))
			m[string(key(kb, i))] = val
		}
		n := o.scale(2_000_000)
		buf := make([]byte, 64)
		t := time.Now()
		for i := range n {
			kb = key(kb, i)
			if i%100 < getPct {
				mu.RLock()
				v, ok := m[string(kb)]
				if ok {
					copy(buf, v) // a copy out, as Map.Get makes
				}
				mu.RUnlock()
				if !ok || binary.LittleEndian.Uint64(buf)%mapKeys != uint64(i%mapKeys) {
					return 0, fmt.Errorf("get %d", i)
				}
				continue
			}
			mu.Lock()
			v := m[string(kb)]
			binary.LittleEndian.PutUint64(v, uint64(i))
			mu.Unlock()
		}
		return rate(n, time.Since(t)), nil
	}
}

type handoffArgs struct {
	Ping, Pong *sem.SharedSemaphore
	N          int
}

var handoffEcho = procs.Entry("bench.handoffEcho", func(ctx context.Context, a handoffArgs) error {
	for range a.N {
		if err := a.Ping.AcquireContext(ctx); err != nil {
			return err
		}
		if err := a.Pong.Release(); err != nil {
			return err
		}
	}
	return nil
})

func semHandoff(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
	ping, err := sem.NewSemaphore(0)
	if err != nil {
		return 0, err
	}
	defer ping.Close()
	pong, err := sem.NewSemaphore(0)
	if err != nil {
		return 0, err
	}
	defer pong.Close()
	n := o.scale(50_000)
	child, err := handoffEcho.Start(ctx, handoffArgs{Ping: ping, Pong: pong, N: n})
	if err != nil {
		return 0, err
	}
	warm := min(n/10, 1000)
	for i := range n {
		t := time.Now()
		if err := ping.Release(); err != nil {
			return 0, err
		}
		if err := pong.AcquireContext(ctx); err != nil {
			_ = child.Kill()
			return 0, errors.Join(err, child.Wait())
		}
		if i >= warm {
			_ = h.RecordValue(time.Since(t).Nanoseconds())
		}
	}
	return 0, child.WaitContext(ctx)
}

type mpmcArgs struct {
	Q        *ring.Queue
	Producer bool
	From, N  int
	Sums     *ctypes.RawArray[int64] // per consumer: count, sum
	Slot     int
	Batch    int // messages a PutBatch or GetBatch, if above 1
	Line     startLine
}

var mpmcPeer = procs.Entry("bench.mpmcPeer", func(ctx context.Context, a mpmcArgs) error {
	if err := a.Line.arrive(ctx); err != nil {
		return err
	}
	batch := max(a.Batch, 1)
	msgs := make([][]byte, batch)
	for i := range msgs {
		msgs[i] = make([]byte, 64)
	}
	if a.Producer {
		for i := a.From; i < a.From+a.N; i += batch {
			k := min(batch, a.From+a.N-i)
			for j, m := range msgs[:k] {
				binary.LittleEndian.PutUint64(m, uint64(i+j))
			}
			var err error
			if batch > 1 {
				_, err = a.Q.PutBatchContext(ctx, msgs[:k])
			} else {
				err = a.Q.PutContext(ctx, msgs[0])
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	var count, sum int64
	got := msgs[:0]
	for {
		var err error
		if batch > 1 {
			got, err = a.Q.GetBatchContext(ctx, batch, got[:0])
		} else {
			var m []byte
			if m, err = a.Q.GetContext(ctx, msgs[0]); err == nil {
				got = append(got[:0], m)
			}
		}
		if err != nil {
			s := a.Sums.Slice()
			s[2*a.Slot], s[2*a.Slot+1] = count, sum
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		for _, m := range got {
			if len(m) != 64 {
				return fmt.Errorf("a %d-byte message", len(m))
			}
			count++
			sum += int64(binary.LittleEndian.Uint64(m))
		}
	}
})

// mpmcBatched is the shmkit side of the 2+2 queue scenarios: producers put and consumers get
// batch messages a call.
func mpmcBatched(batch int) func(context.Context, Options, *hdrhistogram.Histogram) (float64, error) {
	return func(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
		n := o.scale(1_000_000) // per producer
		q, err := ring.NewQueue(ring.Capacity(4096), ring.SlotSize(64))
		if err != nil {
			return 0, err
		}
		defer q.Close()
		sums, err := ctypes.NewRawArray[int64](4)
		if err != nil {
			return 0, err
		}
		defer sums.Close()
		var ps []*procs.Process
		defer func() {
			for _, p := range ps {
				_ = p.Kill()
				_ = p.Join()
			}
		}()
		line, err := newStartLine()
		if err != nil {
			return 0, err
		}
		defer line.close()
		for c := range 2 {
			p, err := mpmcPeer.Start(ctx, mpmcArgs{Q: q, Sums: sums, Slot: c, Batch: batch, Line: line})
			if err != nil {
				return 0, err
			}
			ps = append(ps, p)
		}
		var producers []*procs.Process
		for p := range 2 {
			pr, err := mpmcPeer.Start(ctx, mpmcArgs{Q: q, Producer: true, From: p * n, N: n, Batch: batch, Line: line})
			if err != nil {
				return 0, err
			}
			producers = append(producers, pr)
			ps = append(ps, pr)
		}
		t, err := line.release(ctx, 4)
		if err != nil {
			return 0, err
		}
		for _, pr := range producers {
			if err := pr.WaitContext(ctx); err != nil {
				return 0, err
			}
		}
		if err := q.Shutdown(); err != nil {
			return 0, err
		}
		for _, c := range ps[:2] {
			if err := c.WaitContext(ctx); err != nil {
				return 0, err
			}
		}
		d := time.Since(t)
		s := sums.Slice()
		total, want := 2*int64(n), int64(2*n)*int64(2*n-1)/2
		if s[0]+s[2] != total || s[1]+s[3] != want {
			return 0, fmt.Errorf("consumers got %d messages summing to %d; want %d and %d", s[0]+s[2], s[1]+s[3], total, want)
		}
		return rate(2*n, d), nil
	}
}

func chanMPMC(ctx context.Context, o Options, _ *hdrhistogram.Histogram) (float64, error) {
	n := o.scale(1_000_000)
	ch := make(chan [64]byte, 1024)
	var prod, cons sync.WaitGroup
	var count, sum atomic.Int64
	t := time.Now()
	for c := range 2 {
		_ = c
		cons.Go(func() {
			var k, s int64
			for m := range ch {
				k++
				s += int64(binary.LittleEndian.Uint64(m[:]))
			}
			count.Add(k)
			sum.Add(s)
		})
	}
	for p := range 2 {
		prod.Go(func() {
			var m [64]byte
			for i := p * n; i < (p+1)*n; i++ {
				binary.LittleEndian.PutUint64(m[:], uint64(i))
				ch <- m
			}
		})
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	d := time.Since(t)
	if count.Load() != int64(2*n) || sum.Load() != int64(2*n)*int64(2*n-1)/2 {
		return 0, fmt.Errorf("consumers got %d messages", count.Load())
	}
	return rate(2*n, d), nil
}

// handoffOver is sem_handoff_rtt's kernel baseline: a small token there and back.
func handoffOver(impl string) Impl {
	return Impl{Name: impl, Run: func(ctx context.Context, o Options, h *hdrhistogram.Histogram) (float64, error) {
		return 0, pingpong(ctx, impl, 16, ring.Sleep, o.scale(50_000), h)
	}}
}
