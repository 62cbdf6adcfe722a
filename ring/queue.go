package ring

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/futex"
	"github.com/shmkit/shmkit/internal/member"
	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/shm"
)

// queueShared is the control block of a Queue's segment, pinned by TestQueueLayout.
//
//	   0  slots        u64  number of slots, a power of two, at least 2   set once, before publication
//	   8  slotSize     u64  longest message, bytes                 set once
//	  16  shutdown     u32  1 once shut down, 2 shut down now     atomic
//	  20  joinable     u32  1: Put counts unfinished tasks         set once
//	  24  unfinished   u32  tasks put and not yet TaskDone (futex word for Join)   atomic
//	  28  joiners      u32  1: a process may sleep in Join         set by joiners, swapped to 0 by TaskDone
//	  32  capacity     u64  messages the queue holds, 1 to slots   set once
//	  40  elem         u64  a QueueOf's element type (see elemOf); 0: bytes   set once
//	 128  enq          u64  next position producers claim          CAS by producers
//	 256  deq          u64  next position consumers claim          CAS by consumers
//	 384  notEmpty     u32  bumped when a message lands and a getter sleeps (futex word)
//	 388  notFull      u32  bumped when a slot frees and a putter sleeps (futex word)
//	 392  getSleeping  u32  1: a getter may sleep on notEmpty      set by getters, swapped to 0 by wakers
//	 396  putSleeping  u32  1: a putter may sleep on notFull       set by putters, swapped to 0 by wakers
//	 512  members      [1024]u32  processes attached (package member): who can still put or get
//	4608  slots, each stride = align8(16 + slotSize) bytes:
//	        0  seq    u64  Vyukov's sequence: pos (free for the put at pos), pos+1 (holds the
//	                       message put at pos), pos+slots (free for the next lap); bit 63 set on
//	                       pos+1: the claim was taken over from a dead producer, skip it
//	        8  len    u32  message length
//	       12  owner  u32  ID of the process between claiming and finishing the slot, 0 else
//	       16  message
//
// A producer claims position pos by CAS on enq once slot pos&(slots-1) has seq == pos (and,
// when capacity < slots, once pos - deq < capacity), writes owner, the message, and publishes
// with CAS seq: pos → pos+1. A consumer claims pos by CAS on deq once seq == pos+1, writes
// owner, copies the message out, clears owner, and frees the slot with seq = pos+slots. A
// claim whose process died is found by the other side when it waits on that slot: a dead
// producer's slot is marked skipped so consumers move on, a dead consumer's slot is freed (its
// message died with it), so no death wedges the queue. Vyukov's sequence needs two slots at
// least (with one, "holds a message" and "free for the next lap" are the same value), so a
// queue of capacity 1 has two slots and the capacity check.
//
// Sleeping: a getter sets getSleeping, re-checks, and parks on notEmpty; a producer that finds
// getSleeping set swaps it to 0, bumps notEmpty and wakes one getter. The woken getter sets the
// flag again before it looks, so the flag stays set while anyone may sleep, and a getter that
// leaves with messages still queued wakes the next (the flag's baton). A flag, not a count: a
// sleeper killed in its sleep leaves at most one wasted wake behind, not one per Put for ever.
type queueShared struct {
	slots       uint64
	slotSize    uint64
	shutdown    uint32
	joinable    uint32
	unfinished  uint32
	joiners     uint32
	capacity    uint64
	elem        uint64
	_           [lineSize - 48]byte
	enq         uint64
	_           [lineSize - 8]byte
	deq         uint64
	_           [lineSize - 8]byte
	notEmpty    uint32
	notFull     uint32
	getSleeping uint32
	putSleeping uint32
	_           [lineSize - 16]byte
	members     [QueueMembers]uint32
}

const (
	// QueueMembers is how many attachments a Queue records (one per process that has it open,
	// or more if a process opens it more than once); one more is ErrTooMany.
	QueueMembers = 1024
	queueSlots   = 4*lineSize + 4*QueueMembers // offset of the first slot
	slotHeader   = 16
	skipBit      = 1 << 63
	// MaxSlots and MaxSlotSize bound a Queue.
	MaxSlots    = 1 << 30
	MaxSlotSize = 1 << 30
	queueKind   = "ring.Queue"
	queueType   = "ring.Queue"
)

var _ [queueSlots - unsafe.Sizeof(queueShared{})]struct{}

func queueLayout(capacity, slotSize int, elem uint64) string {
	return fmt.Sprintf("ring.Queue/v2 cap=%d slot=%d elem=%016x", capacity, slotSize, elem)
}

// queueSlotsFor returns the slots a queue of capacity messages needs: a power of two, two at
// least.
func queueSlotsFor(capacity int) int {
	n := 2
	for n < capacity {
		n *= 2
	}
	return n
}

func stride(slotSize uint64) uint64 { return align8(slotHeader + slotSize) }

// A Queue is a bounded many-producer, many-consumer queue of messages in shared memory:
// Python's multiprocessing.Queue and SimpleQueue (this one type is both). Each message is at
// most SlotSize bytes and is copied once in and once out; there is no lock, and a wait sleeps in
// the kernel only when the queue is empty (or full). Make one with NewQueue (anonymous),
// CreateQueue or OpenQueue. Close detaches this process; Shutdown ends the queue for all.
type Queue struct {
	object.Handle
	seg       *shm.Segment
	sh        *queueShared
	slots     []byte
	mask      uint64
	stride    uint64
	slotSize  int
	capacity  uint64 // below mask+1 only for capacities that are not a power of two
	limited   bool   // capacity < slots: Put also checks deq
	members   member.Table
	putBudget spinBudget // how long Put spins before it sleeps
	getBudget spinBudget
	crowdAt   atomic.Int64 // when checkCrowd counts the attached processes next, Unix ns
}

// crowdCheck is how often a Queue that waits counts the processes attached to it.
const crowdCheck = 100 * time.Millisecond

// checkCrowd marks the queue's spin budgets crowded while more processes are attached to it
// than the machine has CPUs: a process that spins for a message (or for room) then keeps the
// one that would put it (or take one) from running, since with more busy processes than cores
// they take turns on them; a crowded wait looks less often, and yields its CPU when the other
// side has stopped (yieldWait). Two producer and
// two consumer processes on two cores: 200 -> 170 ns a message, and 260 -> 90-100 ns with
// batches of 32. It counts at most every crowdCheck.
func (q *Queue) checkCrowd() {
	now := time.Now().UnixNano()
	next := q.crowdAt.Load()
	if now < next || !q.crowdAt.CompareAndSwap(next, now+int64(crowdCheck)) {
		return
	}
	crowded := q.members.Used() > runtime.NumCPU()
	q.getBudget.crowded.Store(crowded)
	q.putBudget.crowded.Store(crowded)
}

// queueSpec is the segment of a queue as the options describe it.
func queueSpec(opts []shm.Option, joinable bool, elem uint64) (object.Spec, error) {
	capacity, slotSize, err := queueParams(opts)
	if err != nil {
		return object.Spec{}, err
	}
	slots := queueSlotsFor(capacity)
	size := uint64(queueSlots) + uint64(slots)*stride(uint64(slotSize))
	if size > math.MaxInt || size > shm.MaxSize {
		return object.Spec{}, fmt.Errorf("%w: %d slots of %d bytes", ErrInvalid, slots, slotSize)
	}
	return object.Spec{Kind: queueKind, Layout: queueLayout(capacity, slotSize, elem), Size: int(size), Variable: true,
		Init: func(b []byte) error {
			sh := (*queueShared)(unsafe.Pointer(&b[0])) // not yet published: plain writes are fine
			sh.slots, sh.slotSize, sh.capacity, sh.elem = uint64(slots), uint64(slotSize), uint64(capacity), elem
			if joinable {
				sh.joinable = 1
			}
			st := stride(uint64(slotSize))
			for i := uint64(0); i < uint64(slots); i++ {
				binary.LittleEndian.PutUint64(b[queueSlots+i*st:], i)
			}
			return nil
		}}, nil
}

func attachQueue(seg *shm.Segment) (*Queue, error) {
	b := seg.Bytes()
	if len(b) < queueSlots {
		return nil, fmt.Errorf("%w: %d-byte segment", ErrCorrupt, len(b))
	}
	sh := (*queueShared)(unsafe.Pointer(&b[0])) // the payload is 128-byte aligned
	n, ss, c, elem := atomic.LoadUint64(&sh.slots), atomic.LoadUint64(&sh.slotSize), atomic.LoadUint64(&sh.capacity), atomic.LoadUint64(&sh.elem)
	if n < 2 || n > MaxSlots || n&(n-1) != 0 || ss < 1 || ss > MaxSlotSize || c < 1 || c > n ||
		n != uint64(queueSlotsFor(int(c))) || uint64(len(b)) != queueSlots+n*stride(ss) {
		return nil, fmt.Errorf("%w: capacity %d in %d slots of %d bytes in a %d-byte segment", ErrCorrupt, c, n, ss, len(b))
	}
	if seg.Fingerprint() != shm.Fingerprint(queueLayout(int(c), int(ss), elem)) {
		return nil, fmt.Errorf("%w: not %s", shm.ErrFingerprint, queueLayout(int(c), int(ss), elem))
	}
	q := &Queue{seg: seg, sh: sh, slots: b[queueSlots:], mask: n - 1, stride: stride(ss), slotSize: int(ss),
		capacity: c, limited: c < n, members: member.Table(sh.members[:])}
	q.putBudget.other, q.getBudget.other = &sh.deq, &sh.enq
	if err := attachMember(seg, q.members); err != nil {
		return nil, err
	}
	q.Bind(seg)
	return q, nil
}

// Cap returns the number of messages the queue holds.
func (q *Queue) Cap() int { return int(q.capacity) }

// SlotSize returns the longest message the Queue carries.
func (q *Queue) SlotSize() int { return q.slotSize }

// Len returns the number of messages put and not yet got (a snapshot; claims in flight count).
func (q *Queue) Len() int {
	if atomic.LoadUint32(&q.sh.shutdown) == shutdownNow {
		return 0 // dropped
	}
	d := atomic.LoadUint64(&q.sh.deq)
	e := atomic.LoadUint64(&q.sh.enq)
	if e < d {
		return 0
	}
	return int(min(e-d, q.capacity))
}

// The values of queueShared.shutdown.
const (
	shutdownDrain = 1 // Shutdown: Get returns what is left, then io.EOF
	shutdownNow   = 2 // ShutdownNow: what is left is dropped; Get returns io.EOF at once
)

// Shutdown ends the queue for every process: Put fails with ErrClosed from then on, and Get
// returns what is left, then io.EOF (Python 3.13's shutdown()). A second Shutdown is
// ErrClosed. To detach only this process, Close.
func (q *Queue) Shutdown() error {
	if q.Closed() {
		return ErrClosed
	}
	if !atomic.CompareAndSwapUint32(&q.sh.shutdown, 0, shutdownDrain) {
		return ErrClosed
	}
	q.wakeAll()
	return nil
}

// ShutdownNow ends the queue for every process and drops what is left in it (Python 3.13's
// shutdown(immediate=True)): Put fails with ErrClosed, Get and TryGet return io.EOF at once,
// in every process, and a JoinableQueue counts the dropped messages as done, so Join returns.
// It may follow Shutdown (to stop a drain); a second ShutdownNow is ErrClosed.
func (q *Queue) ShutdownNow() error {
	if q.Closed() {
		return ErrClosed
	}
	for {
		old := atomic.LoadUint32(&q.sh.shutdown)
		if old == shutdownNow {
			return ErrClosed
		}
		if atomic.CompareAndSwapUint32(&q.sh.shutdown, old, shutdownNow) {
			break
		}
	}
	if atomic.LoadUint32(&q.sh.joinable) != 0 {
		left := uint32(min(atomic.LoadUint64(&q.sh.enq)-atomic.LoadUint64(&q.sh.deq), q.capacity))
		for {
			n := atomic.LoadUint32(&q.sh.unfinished)
			if atomic.CompareAndSwapUint32(&q.sh.unfinished, n, n-min(n, left)) {
				break
			}
		}
		futex.Wake(&q.sh.unfinished, -1)
	}
	q.wakeAll()
	return nil
}

// wakeAll wakes every sleeping Put and Get, to see the shutdown.
func (q *Queue) wakeAll() {
	atomic.AddUint32(&q.sh.notEmpty, 1)
	atomic.AddUint32(&q.sh.notFull, 1)
	futex.Wake(&q.sh.notEmpty, -1)
	futex.Wake(&q.sh.notFull, -1)
}

// IsShutdown reports whether some process shut the queue down.
func (q *Queue) IsShutdown() bool { return !q.Closed() && atomic.LoadUint32(&q.sh.shutdown) != 0 }

// slot returns the header words and message area of slot pos.
func (q *Queue) slot(pos uint64) (seq *uint64, length, owner *uint32, msg []byte) {
	b := q.slots[(pos&q.mask)*q.stride:]
	// Sound: every slot starts at a multiple of 8 from the 128-byte aligned payload.
	return (*uint64)(unsafe.Pointer(&b[0])), (*uint32)(unsafe.Pointer(&b[8])),
		(*uint32)(unsafe.Pointer(&b[12])), b[slotHeader : slotHeader+q.slotSize : slotHeader+q.slotSize]
}

func init() {
	shm.Register(queueType, func(h shm.Handle) (shm.Shareable, error) {
		if h.Offset != 0 {
			return nil, fmt.Errorf("%w: queue at offset %d", ErrCorrupt, h.Offset)
		}
		return attachQueue(h.Segment)
	})
}

// ShareHandle implements shm.Shareable: a Queue travels as its segment.
func (q *Queue) ShareHandle() (shm.Handle, error) {
	if q == nil || q.Closed() {
		return shm.Handle{}, ErrClosed
	}
	return shm.Handle{Type: queueType, Segment: q.seg}, nil
}

// Expect implements shm.Expecter: process pid, just started, is about to attach the queue.
func (q *Queue) Expect(pid int) error { return expectMember(q.members, pid) }

// String shows the queue's name, fill level and slot size, and whether it is shut down, for
// fmt and debuggers: ring.Queue(jobs, 3 of 64 messages of up to 256 bytes).
func (q *Queue) String() string { return q.describe("ring.Queue") }

// describe is the String of every kind of queue: a JoinableQueue's (whatever the view) adds
// its unfinished tasks.
func (q *Queue) describe(kind string) string {
	name := object.Label(q.Name())
	if q.Closed() {
		return fmt.Sprintf("%s(%s, closed)", kind, name)
	}
	more := ""
	if atomic.LoadUint32(&q.sh.joinable) != 0 {
		if kind == "ring.Queue" {
			kind = "ring.JoinableQueue"
		}
		more = fmt.Sprintf(", %d unfinished", atomic.LoadUint32(&q.sh.unfinished))
	}
	switch atomic.LoadUint32(&q.sh.shutdown) {
	case shutdownDrain:
		more += ", shut down"
	case shutdownNow:
		more += ", shut down now"
	}
	return fmt.Sprintf("%s(%s, %d of %d messages of up to %d bytes%s)", kind, name, q.Len(), q.capacity, q.slotSize, more)
}
