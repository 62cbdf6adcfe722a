package ring

import (
	"fmt"
	"math/bits"

	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/shm"
)

// Sizes a constructor uses when no option says otherwise.
const (
	DefaultPipeCapacity  = 1 << 20 // bytes of a Pipe's data region
	DefaultQueueCapacity = 1024    // messages a Queue holds
	DefaultSlotSize      = 1024    // bytes of a Queue's longest message
)

type capacityKey struct{}
type slotSizeKey struct{}

// Capacity sets a Pipe's data region in bytes (rounded up to a power of two, at least
// MinPipeCapacity; DefaultPipeCapacity otherwise) or the number of messages a Queue holds
// (exactly; DefaultQueueCapacity otherwise).
func Capacity(n int) shm.Option { return shm.Setting(capacityKey{}, n) }

// SlotSize sets the longest message a Queue carries, in bytes (DefaultSlotSize otherwise).
func SlotSize(n int) shm.Option { return shm.Setting(slotSizeKey{}, n) }

func setting(opts []shm.Option, key any, def int) int {
	if v, ok := shm.SettingOf[int](opts, key); ok {
		return v
	}
	return def
}

// pipeCapacity reads the Capacity option for a Pipe, rounded up to a power of two.
func pipeCapacity(opts []shm.Option) (int, error) {
	c := setting(opts, capacityKey{}, DefaultPipeCapacity)
	if c < 1 || c > MaxPipeCapacity {
		return 0, fmt.Errorf("%w: pipe capacity %d (want 1 to %d bytes)", ErrInvalid, c, int64(MaxPipeCapacity))
	}
	c = max(c, MinPipeCapacity)
	if c&(c-1) != 0 {
		c = 1 << bits.Len(uint(c))
	}
	return c, nil
}

func pipeSpec(capacity int, elem uint64) object.Spec {
	return object.Spec{Kind: pipeKind, Layout: pipeLayout(capacity, elem), Size: pipeData + capacity, Variable: true,
		Init: func(b []byte) error {
			sh := pipeAt(b) // before publication: plain writes are fine
			sh.capacity, sh.elem = uint64(capacity), elem
			return nil
		}}
}

// NewPipe makes an anonymous Pipe (Python's Pipe(duplex=False)): it lives while a process
// has it, and travels to children in an entry's argument. Options: Capacity, and those of shm.
func NewPipe(opts ...shm.Option) (*Pipe, error) { return makePipe("", opts, 0) }

// CreatePipe makes the Pipe called name; shm.ErrExist if the name is taken.
func CreatePipe(name string, opts ...shm.Option) (*Pipe, error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return makePipe(name, opts, 0)
}

// OpenPipe attaches the Pipe called name; shm.ErrNotExist if there is none.
func OpenPipe(name string, opts ...shm.Option) (*Pipe, error) {
	seg, err := object.Open(object.Spec{Kind: pipeKind, Variable: true}, name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwned(seg, attachPipe)
}

// OpenOrCreatePipe attaches the Pipe called name, or makes it if the name is free (an
// existing Pipe keeps its own capacity).
func OpenOrCreatePipe(name string, opts ...shm.Option) (*Pipe, error) {
	c, err := pipeCapacity(opts)
	if err != nil {
		return nil, err
	}
	seg, _, err := object.OpenOrCreate(pipeSpec(c, 0), name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwned(seg, attachPipe)
}

func makePipe(name string, opts []shm.Option, elem uint64) (*Pipe, error) {
	c, err := pipeCapacity(opts)
	if err != nil {
		return nil, err
	}
	seg, err := object.Make(pipeSpec(c, elem), name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwned(seg, attachPipe)
}

// queueParams reads the Capacity and SlotSize options for a Queue.
func queueParams(opts []shm.Option) (capacity, slotSize int, err error) {
	capacity = setting(opts, capacityKey{}, DefaultQueueCapacity)
	slotSize = setting(opts, slotSizeKey{}, DefaultSlotSize)
	if capacity < 1 || capacity > MaxSlots {
		return 0, 0, fmt.Errorf("%w: capacity %d (want 1 to %d)", ErrInvalid, capacity, MaxSlots)
	}
	if slotSize < 1 || slotSize > MaxSlotSize {
		return 0, 0, fmt.Errorf("%w: slot size %d (want 1 to %d)", ErrInvalid, slotSize, MaxSlotSize)
	}
	return capacity, slotSize, nil
}

// NewQueue makes an anonymous Queue (Python's Queue() and SimpleQueue()). Options: Capacity
// (messages, exact), SlotSize (the longest message), and those of shm.
func NewQueue(opts ...shm.Option) (*Queue, error) { return makeQueue("", opts, false, 0) }

// CreateQueue makes the Queue called name; shm.ErrExist if the name is taken.
func CreateQueue(name string, opts ...shm.Option) (*Queue, error) {
	if err := shm.ValidateCreateName(name); err != nil {
		return nil, err
	}
	return makeQueue(name, opts, false, 0)
}

// OpenQueue attaches the Queue called name (any Queue, joinable or typed); shm.ErrNotExist if
// there is none.
func OpenQueue(name string, opts ...shm.Option) (*Queue, error) {
	seg, err := object.Open(object.Spec{Kind: queueKind, Variable: true}, name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwned(seg, attachQueue)
}

// OpenOrCreateQueue attaches the Queue called name, or makes it if the name is free (an
// existing Queue keeps its own capacity and slot size).
func OpenOrCreateQueue(name string, opts ...shm.Option) (*Queue, error) {
	spec, err := queueSpec(opts, false, 0)
	if err != nil {
		return nil, err
	}
	seg, _, err := object.OpenOrCreate(spec, name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwned(seg, attachQueue)
}

func makeQueue(name string, opts []shm.Option, joinable bool, elem uint64) (*Queue, error) {
	spec, err := queueSpec(opts, joinable, elem)
	if err != nil {
		return nil, err
	}
	seg, err := object.Make(spec, name, opts)
	if err != nil {
		return nil, err
	}
	return attachOwned(seg, attachQueue)
}

// attachOwned builds the object in seg, closing seg if that fails.
func attachOwned[T any](seg *shm.Segment, attach func(*shm.Segment) (*T, error)) (*T, error) {
	obj, err := attach(seg)
	if err != nil {
		_ = seg.Close()
		return nil, err
	}
	return obj, nil
}
