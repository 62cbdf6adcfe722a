package ring

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/member"
	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/internal/pidinfo"
	"github.com/shmkit/shmkit/shm"
)

// pipeShared is the control block at the start of a Pipe's segment: one 128-byte line for
// what never changes and the ends' ownership, one for the producer's index, one for the
// consumer's, one for the sleep flags, then the data. 128 bytes, not cpu.CacheLinePad, so the
// layout does not depend on GOARCH; TestPipeLayout pins it.
//
//	  0  capacity        u64  data bytes, a power of two          set once, before publication
//	  8  writerClosed    u32  1 once the writer closed: EOF after the data   writer, atomic
//	 12  readerClosed    u32  1 once the reader closed                        reader, atomic
//	 16  writerID        u32  pidinfo.ID of the writer process, 0: none       CAS by claimers
//	 20  readerID        u32  pidinfo.ID of the reader process, 0: none       CAS by claimers
//	 24  writerLight     u32  1: the writer publishes without a full fence    writer, atomic
//	 28  fullFence       u32  1: the reader asks the writer for full fences  reader, atomic
//	 32  elem            u64  a PipeOf's element type (see elemHash); 0: bytes  set once
//	128  tail            u64  bytes published, stored every min(capacity/8, 16 KiB) writer
//	256  head            u64  bytes released, stored every quarter capacity   reader, atomic
//	384  readerSleep     u32  the reader sleeps (or is about to)              reader, atomic
//	388  writerSleep     u32  the writer sleeps (or is about to) on head      writer, atomic
//	392  streaming       u32  1: the reader reads behind the tail (a hint)     reader, atomic
//	512  members         [256]u32 processes attached (package member)   join/leave, atomic
//	1536 data            capacity bytes of records
//
// tail and head run free; position p is at data[p & (capacity-1)]. A record is published by
// its header, not by tail: the writer zeroes the header after a record, fills the record, and
// stores its header last; the reader polls the header at its position and stops at a zero
// one. So a hand-off moves the record's own cache lines and nothing else, and tail is only
// a hint: for Len, for a streaming reader's slip (see Reader.slipBehind), and for a writer
// taking the end over, which walks the headers on from it.
//
// Sleeping: the reader sleeps on the high half of the zero header it waits at, the writer on
// the low half of head. Each side stores (its header, its head) and then reads the other's
// sleeping flag; a sleeper sets its flag and then re-reads, so one of them always sees the
// other (sequentially consistent atomics). The reader publishes head at once when the writer
// sleeps. A writer whose process is registered with membarrier (package fence) stores
// headers without the full fence and says so in writerLight; a reader then runs the barrier
// on the writer's CPU (fence.Heavy) between setting its flag and re-reading. A reader in
// Sleep mode, which would pay for that barrier on every hand-off, sets fullFence instead: the
// writer, at its next Commit, clears writerLight (a full fence, after every light store) and
// goes back to full fences, and the reader skips the barrier once it sees writerLight clear.
//
// A record Send publishes is written with ordinary stores, never non-temporal ones, though on
// AMD EPYC a stream of 64-byte records written around the cache ran 1.1-2.3x as fast as the
// same Send writing through it (runs of one session), and BenchmarkSPSC64/impl=raw-floor-around
// shows more. Such stores are seen out of order, so a reader may trust one only once the
// writer has fenced (SFENCE) after it; a writer that sends its last record and goes on
// computing never fences, and its last line stays in a write-combining buffer, which has no
// time-out. The barrier a reader can run on the writer's CPU (fence.Heavy) did not make such
// stores visible: with it, 4 of 25 stressed runs of `shmkit bench` got a record whose last
// word was a lap old; trusting only the writer's fences, none of 45. With nothing that drains
// another process's buffers, a record sent could stay unread for good. A buffered writer
// (Writer.SetBuffer) does write around the cache: its records are not published by those
// stores but by a header stored after a fence, at a buffer's worth, Flush or Close, a contract
// under which nothing waits on a writer's idle buffers.
type pipeShared struct {
	capacity     uint64
	writerClosed uint32
	readerClosed uint32
	writerID     uint32
	readerID     uint32
	writerLight  uint32
	fullFence    uint32
	elem         uint64
	_            [lineSize - 40]byte
	tail         uint64
	_            [lineSize - 8]byte
	head         uint64
	_            [lineSize - 8]byte
	readerSleep  uint32
	writerSleep  uint32
	streaming    uint32
	_            [lineSize - 12]byte
	members      [PipeMembers]uint32
}

const (
	lineSize = object.LineSize
	// PipeMembers is how many attachments a Pipe records (one per process that has it open);
	// one more is ErrTooMany. An end nobody has claimed is gone when every other member is.
	PipeMembers = 256
	pipeData    = 4*lineSize + 4*PipeMembers
	// MinPipeCapacity and MaxPipeCapacity bound a Pipe's data region: a segment holds at most
	// shm.MaxSize bytes, the control block included.
	MinPipeCapacity = 64
	MaxPipeCapacity = shm.MaxSize / 2
)

var _ [pipeData - unsafe.Sizeof(pipeShared{})]struct{}

const pipeKind = "ring.Pipe"

func pipeLayout(capacity int, elem uint64) string {
	return fmt.Sprintf("ring.Pipe/v4 cap=%d elem=%016x", capacity, elem)
}

// A Pipe is a one-way channel of variable-length records in shared memory, for one writer
// process and one reader process: Python's Pipe(duplex=False), without a copy or a system call
// on the way. Make one with NewPipe (anonymous), CreatePipe or OpenPipe; take its ends with
// Writer and Reader; pass the Pipe itself to a child. Close detaches this process; ending the
// stream is the Writer's Close (or Shutdown, for both ends at once).
type Pipe struct {
	object.Handle
	seg     *shm.Segment
	sh      *pipeShared
	data    []byte
	mask    uint64
	members member.Table
}

// pipeAt is the control block at the start of a Pipe's payload. Sound: the payload is
// 128-byte aligned and callers check it holds at least pipeData bytes.
func pipeAt(b []byte) *pipeShared { return (*pipeShared)(unsafe.Pointer(&b[0])) }

// attachPipe validates the control block against the segment before trusting it.
func attachPipe(seg *shm.Segment) (*Pipe, error) {
	b := seg.Bytes()
	if len(b) < pipeData+MinPipeCapacity {
		return nil, fmt.Errorf("%w: %d-byte segment", ErrCorrupt, len(b))
	}
	sh := pipeAt(b)
	c := atomic.LoadUint64(&sh.capacity)
	if c < MinPipeCapacity || c&(c-1) != 0 || uint64(len(b)) != pipeData+c {
		return nil, fmt.Errorf("%w: capacity %d in a %d-byte segment", ErrCorrupt, c, len(b))
	}
	elem := atomic.LoadUint64(&sh.elem)
	if seg.Fingerprint() != shm.Fingerprint(pipeLayout(int(c), elem)) {
		return nil, fmt.Errorf("%w: layout fingerprint %#x is not %s's", shm.ErrFingerprint, seg.Fingerprint(), pipeLayout(int(c), elem))
	}
	p := &Pipe{seg: seg, sh: sh, data: b[pipeData:], mask: c - 1, members: member.Table(sh.members[:])}
	if err := attachMember(seg, p.members); err != nil {
		return nil, err
	}
	p.Bind(seg)
	return p, nil
}

// Expect implements shm.Expecter: process pid, just started, is about to attach the pipe.
func (p *Pipe) Expect(pid int) error { return expectMember(p.members, pid) }

// Capacity returns the size of the data region in bytes.
func (p *Pipe) Capacity() int { return len(p.data) }

// MaxRecord returns the longest record the Pipe carries.
func (p *Pipe) MaxRecord() int { return len(p.data)/2 - recordHeader }

// Len returns the bytes (headers included) published and not yet released, as the shared
// indices show them: a snapshot. The reader publishes its position in batches of a quarter
// of the capacity, so while it runs Len can count up to that much it has already consumed.
// Len reads the records' headers on from the last stored tail, so it is not for a hot path.
func (p *Pipe) Len() int {
	head := atomic.LoadUint64(&p.sh.head)
	tail := atomic.LoadUint64(&p.sh.tail)
	t, err := p.frontier(max(tail, head), head)
	if err != nil { // the ends moved a lap under the walk (or the region is corrupt)
		t = max(tail, head)
	}
	return int(min(t-head, uint64(len(p.data))))
}

// Shutdown ends the pipe for every process: the reader gets what was committed, then io.EOF;
// the writer, and any Writer or Reader claimed from now on, ErrClosed.
func (p *Pipe) Shutdown() error {
	if p.Closed() {
		return ErrClosed
	}
	atomic.StoreUint32(&p.sh.writerClosed, 1)
	atomic.StoreUint32(&p.sh.readerClosed, 1)
	futex.Wake(p.headWord(), -1)
	h := atomic.LoadUint64(&p.sh.head)
	t, err := p.frontier(max(atomic.LoadUint64(&p.sh.tail), h), h)
	if err == nil {
		futex.Wake(p.typeWord(t&p.mask), -1) // a reader asleep at the end looks again
	}
	return nil
}

// claim takes an end for this process: free, already ours, or held by a dead process. A
// sleeping flag the previous holder left (it died asleep) is cleared: nobody sleeps there now.
func claim(word, closed, sleeping *uint32) error {
	me := uint32(self)
	for {
		if atomic.LoadUint32(closed) != 0 {
			return fmt.Errorf("%w: that end was closed", ErrClosed)
		}
		cur := atomic.LoadUint32(word)
		switch {
		case cur == me:
			return nil
		case cur != 0 && pidinfo.ID(cur).Alive():
			return fmt.Errorf("%w: pid %d", ErrBusy, pidinfo.ID(cur).PID())
		}
		if atomic.CompareAndSwapUint32(word, cur, me) {
			atomic.StoreUint32(sleeping, 0)
			return nil
		}
	}
}

// peerGone reports whether the other end can no longer act: the process holding it has died,
// or nobody has claimed it and nobody can (every other process that had the pipe attached is
// gone, one at least by dying: see member.Table.Orphaned). An end that was closed is not gone
// (its process may then exit: that is an end of stream, not a death).
func (p *Pipe) peerGone(word, closed *uint32) bool {
	if atomic.LoadUint32(closed) != 0 {
		return false
	}
	switch id := atomic.LoadUint32(word); id {
	case 0:
		return p.members.Orphaned(self)
	case uint32(self):
		return false
	default:
		return !pidinfo.ID(id).Alive()
	}
}

// A WaitMode says how a pipe end waits for the other side.
type WaitMode int

const (
	// SpinThenSleep (the default) re-checks for a while, then sleeps in the kernel until
	// woken. How long it spins adapts, between 2 and 100 µs, to how soon its sleeps end:
	// waking a sleeper costs the waker a system call and, on a virtual machine, often more
	// than 10 µs, so an end whose peer answers within the budget is better off spinning.
	SpinThenSleep WaitMode = iota
	// Sleep sleeps at once: the least CPU, a wake-up's latency on every hand-off.
	Sleep
	// Spin never sleeps: the lowest latency, one core kept busy while waiting (Aeron's
	// busy-spin). Contexts, closes and dead peers are still noticed.
	Spin
)

const (
	minSpin = 2 * time.Microsecond
	maxSpin = 100 * time.Microsecond
)

// A spinBudget is how long a SpinThenSleep end spins before it sleeps. It doubles when a
// sleep ended sooner than maxSpin (spinning on would have caught it) and halves when a sleep
// ran longer, so a busy peer is waited for spinning and an idle one sleeping.
// A Queue's budget is shared by the goroutines that use it, hence the atomics. A crowded
// budget (see Queue.checkCrowd) does not spin: it yields (see yieldWait).
type spinBudget struct {
	d       atomic.Int64
	crowded atomic.Bool
	other   *uint64 // a crowded wait's sign of life from the other side (see yieldWait)
}

func (b *spinBudget) limit() time.Duration { return max(time.Duration(b.d.Load()), minSpin) }

// slept adjusts the budget after a sleep that lasted d.
func (b *spinBudget) slept(d time.Duration) {
	if d < maxSpin {
		b.d.Store(int64(min(2*b.limit(), maxSpin)))
	} else {
		b.d.Store(int64(max(b.limit()/2, minSpin)))
	}
}

// spinWait re-checks ready for as long as mode (and, for SpinThenSleep, budget) says, and
// reports whether it became true. It stops early when stop reports a reason to look elsewhere
// (a context, a close). In Spin mode it keeps going (yielding now and then) until then, or
// until dead, looked at once per check slice since it reads the process table, reports the
// peer gone.
func spinWait(mode WaitMode, budget *spinBudget, ready, stop, dead func() bool) bool {
	if mode == Sleep {
		return false
	}
	if budget.crowded.Load() {
		return yieldWait(ready, stop, budget.other)
	}
	var start, last time.Time // read from the clock only once the wait is long: a hand-off is not
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i%64 != 63 {
			continue
		}
		now := time.Now()
		if start.IsZero() {
			start, last = now, now
		}
		if mode == SpinThenSleep && now.Sub(start) >= budget.limit() {
			return false
		}
		if i%1024 == 1023 {
			if stop() {
				return false
			}
			if now.Sub(last) >= futex.CheckSlice {
				if dead() {
					return false
				}
				last = now
			}
			runtime.Gosched()
		}
	}
}

// yieldFor is about how long a crowded wait looks, and gives its CPU away between looks, before
// it sleeps: yieldFor/backoff looks.
const yieldFor = 50 * time.Microsecond

// backoff is how long a crowded wait keeps its CPU, without a look at the queue, between looks;
// backoffSpins bounds the same pause in rounds of the clock, for a clock that moves in steps
// (Windows: Go's monotonic clock is the interrupt time, and under wine it moved 25-95 us at a
// time), about 10 us where a reading costs 10 ns.
const (
	backoff      = 10 * time.Microsecond
	backoffSpins = 1024
)

// yieldWait is spinWait for a crowded queue, whose processes outnumber the cores. It looks
// every backoff, and leaves the queue's lines alone in between: when the other side (the
// producers, for a getter) is running on another core, it then fills a stretch of slots
// without a consumer pulling each line from under it, and the next look takes them in a row.
// When other, the index that side claims with, has not moved since the last look, that side
// is off the CPUs, most likely waiting for this one: the wait yields it (sched_yield). It
// sleeps after yieldFor/backoff looks. Two producer and two consumer processes on two cores
// (AMD EPYC, BenchmarkMPMC64, five runs each, alternating with a wait that yields at once):
// 6.3-7.5 M messages a second against 5.2-6.5 M, and in batches of 32 13.2-16.2 M against
// 12.4-13.4 M.
func yieldWait(ready, stop func() bool, other *uint64) bool {
	seen := atomic.LoadUint64(other)
	for range yieldFor / backoff {
		for i, t := 0, time.Now(); i < backoffSpins && time.Since(t) < backoff; i++ {
		}
		if ready() {
			return true
		}
		if stop() {
			return false
		}
		if v := atomic.LoadUint64(other); v != seen {
			seen = v // that side runs: leave it to it again
			continue
		}
		futex.Yield()
	}
	return false
}

const pipeType = "ring.Pipe"

func init() {
	shm.Register(pipeType, func(h shm.Handle) (shm.Shareable, error) {
		if h.Offset != 0 {
			return nil, fmt.Errorf("%w: pipe at offset %d", ErrCorrupt, h.Offset)
		}
		return attachPipe(h.Segment)
	})
}

// ShareHandle implements shm.Shareable: a Pipe travels as its segment.
func (p *Pipe) ShareHandle() (shm.Handle, error) {
	if p == nil || p.Closed() {
		return shm.Handle{}, ErrClosed
	}
	return shm.Handle{Type: pipeType, Segment: p.seg}, nil
}

// String shows the pipe's name, capacity and fill level, for fmt and debuggers.
func (p *Pipe) String() string {
	name := object.Label(p.Name())
	if p.Closed() {
		return fmt.Sprintf("ring.Pipe(%s, closed)", name)
	}
	return fmt.Sprintf("ring.Pipe(%s, %d of %d bytes used)", name, p.Len(), p.Capacity())
}
