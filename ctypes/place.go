package ctypes

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/internal/plain"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// Arrays and values placed inside a segment the caller owns, at an aligned offset, rather than
// in a segment of their own:
//
//	RawArray  at off: n elements of T                               (off a multiple of 8)
//	Array     at off: the Mutex (8 bytes, then padding to 64); the elements at off+64
//	Value     as an Array of one element
//
// They travel in an entry's argument like the others (the segment, the offset, and the kind,
// length and element layout as the handle's parameter), but Close only ends this view: the
// segment is its owner's to close. There is no .npy header in a placed array.

const placedType = "ctypes.placed"

// placedAlign is where a placed array or value must start.
const placedAlign = 8

func place(kind string, e elemInfo, seg *shm.Segment, off, n int) (*block, error) {
	if seg == nil || seg.Bytes() == nil {
		return nil, ErrClosed
	}
	if n < 1 || int64(n) > int64(len(seg.Bytes()))/int64(e.size) {
		return nil, fmt.Errorf("%w: %d elements of %d bytes in a %d-byte segment", ErrInvalid, n, e.size, len(seg.Bytes()))
	}
	ctl := 0
	if kind != kindRaw {
		ctl = ctlSize
	}
	b := seg.Bytes()
	if _, err := object.At[[8]byte](b, off, placedAlign); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if off > len(b)-ctl-n*e.size {
		return nil, fmt.Errorf("%w: %d bytes at offset %d of %d", ErrInvalid, ctl+n*e.size, off, len(b))
	}
	blk := &block{seg: seg, kind: kind, n: n, data: unsafe.Pointer(&b[off+ctl]), placed: true, off: off}
	if kind != kindRaw {
		var err error
		if blk.mu, err = sem.At[sem.Mutex](b, off); err != nil {
			return nil, err
		}
	}
	h, _ := plain.Hash(e.typ)
	blk.elem = h
	blk.Bind(seg)
	return blk, nil
}

// RawArrayAt places a RawArray of n elements at offset off of seg (a multiple of 8).
func RawArrayAt[T any](seg *shm.Segment, off, n int) (*RawArray[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	b, err := place(kindRaw, e, seg, off, n)
	if err != nil {
		return nil, err
	}
	return &RawArray[T]{b}, nil
}

// ArrayAt places an Array of n elements at offset off of seg: its lock at off, the elements
// 64 bytes on. The zero bytes of a fresh segment are an unlocked Array of zero values.
func ArrayAt[T any](seg *shm.Segment, off, n int) (*Array[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	return wrapArray[T](place(kindArray, e, seg, off, n))
}

// ValueAt places a Value at offset off of seg: its lock at off, the value 64 bytes on.
func ValueAt[T any](seg *shm.Segment, off int) (*Value[T], error) {
	e, err := elemOf[T]()
	if err != nil {
		return nil, err
	}
	return wrapValue[T](place(kindValue, e, seg, off, 1))
}

// placedParam is what travels beside a placed array's handle: kind, length, element hash.
func (b *block) placedParam() []byte {
	p := []byte{kindCode(b.kind)}
	p = binary.LittleEndian.AppendUint64(p, uint64(b.n))
	return binary.LittleEndian.AppendUint64(p, b.elem)
}

func kindCode(kind string) byte {
	switch kind {
	case kindArray:
		return 1
	case kindValue:
		return 2
	}
	return 0
}

func init() {
	shm.Register(placedType, func(h shm.Handle) (shm.Shareable, error) {
		if len(h.Param) != 17 || h.Param[0] > 2 {
			return nil, fmt.Errorf("%w: placed array parameter of %d bytes", ErrCorrupt, len(h.Param))
		}
		kind := []string{kindRaw, kindArray, kindValue}[h.Param[0]]
		n := binary.LittleEndian.Uint64(h.Param[1:])
		if n < 1 || n > uint64(h.Segment.Size()) {
			return nil, fmt.Errorf("%w: placed array of %d elements", ErrCorrupt, n)
		}
		// The element's size is checked when the receiving field adopts it (its T is known
		// there): see adoptPlaced.
		return &placedHandle{seg: h.Segment, off: int(h.Offset), kind: kind, n: int(n), elem: binary.LittleEndian.Uint64(h.Param[9:])}, nil
	})
}

// placedHandle is what a child receives for a placed array before its field's T is known.
type placedHandle struct {
	seg  *shm.Segment
	off  int
	kind string
	n    int
	elem uint64
}

func (p *placedHandle) ShareHandle() (shm.Handle, error) {
	return shm.Handle{}, fmt.Errorf("%w: a placed array in transit", ErrInvalid)
}

// adoptPlaced rebuilds a placed array for a field of element e.
func adoptPlaced(p *placedHandle, kind string, e elemInfo) (*block, error) {
	h, _ := plain.Hash(e.typ)
	if p.kind != kind || p.elem != h {
		return nil, fmt.Errorf("%w: a placed %s of another element type, not %s", ErrType, p.kind, e.typ)
	}
	return place(kind, e, p.seg, p.off, p.n)
}

// closePlaced ends a placed view without touching its owner's segment.
func (b *block) closePlaced() error {
	if !b.closedPlaced.CompareAndSwap(false, true) {
		return ErrClosed
	}
	return nil
}

var _ = atomic.Bool{}
