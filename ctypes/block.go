package ctypes

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/internal/object"
	"github.com/shmkit/shmkit/internal/plain"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// An array segment (RawArray, Array, Value) is a Trailer segment whose payload is a .npy file:
//
//	0        .npy header (npy.go), a multiple of 64 bytes
//	npyLen   data: n elements of T, packed as Go lays out a []T
//	ctl      at align64(npyLen + n*size): the control block, 64 bytes
//	           0  Mutex (sem.Mutex, 8 bytes): the lock of an Array or a Value; unused by RawArray
//	then shm's 128-byte header, trailing (shm.Trailer), which numpy never reads.
//
// Kind "ctypes.RawArray", "ctypes.Array" or "ctypes.Value"; layout
// "ctypes.<Kind>/v1 elem=<plain descriptor> n=<count>", so the fingerprint pins the element's
// layout and the length, and reopening with another T is ErrType naming both numpy types.

const (
	kindRaw   = "ctypes.RawArray"
	kindArray = "ctypes.Array"
	kindValue = "ctypes.Value"
	ctlSize   = 64
	blockType = "ctypes.block" // how every array segment travels
)

// elemInfo is what T's reflection says, worked out once per constructor call.
type elemInfo struct {
	typ   reflect.Type
	size  int
	desc  string // plain descriptor, for the layout
	numpy string // numpy descr of one element (with its own array dimensions), for errors
}

func elemOf[T any]() (elemInfo, error) {
	t := reflect.TypeFor[T]()
	d, err := plain.Describe(t)
	if err != nil {
		return elemInfo{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if t.Size() == 0 {
		return elemInfo{}, fmt.Errorf("%w: %s has no size", ErrInvalid, t)
	}
	np, err := npyHeader(t, 1, true)
	if err != nil {
		return elemInfo{}, err
	}
	return elemInfo{typ: t, size: int(t.Size()), desc: d, numpy: npyDescr(np)}, nil
}

func align64(n int) int { return (n + 63) &^ 63 }

// geometry is where things are in an array payload of n elements.
type geometry struct{ npyLen, dataLen, ctl, size int }

func (e elemInfo) geometry(n int, scalar bool) (geometry, []byte, error) {
	if n < 1 || uint64(n) > math.MaxInt64/uint64(e.size) || int64(n)*int64(e.size) > shm.MaxSize {
		return geometry{}, nil, fmt.Errorf("%w: length %d of %d-byte elements", ErrInvalid, n, e.size)
	}
	hdr, err := npyHeader(e.typ, n, scalar)
	if err != nil {
		return geometry{}, nil, err
	}
	g := geometry{npyLen: len(hdr), dataLen: n * e.size}
	g.ctl = align64(g.npyLen + g.dataLen)
	g.size = g.ctl + ctlSize
	return g, hdr, nil
}

func layout(kind string, e elemInfo, n int) string {
	return fmt.Sprintf("%s/v1 elem=%s n=%d", kind, e.desc, n)
}

// block is the process-local view of one array segment.
type block struct {
	object.Handle
	seg  *shm.Segment
	kind string
	data unsafe.Pointer // the first element
	n    int
	mu   *sem.Mutex // the control block's lock

	placed       bool        // in a segment the caller owns (place.go)
	off          int         // where, when placed
	elem         uint64      // plain.Hash of T, when placed
	closedPlaced atomic.Bool // Close of a placed view
}

// Close detaches this process: from the array's own segment, or, for a placed array, from
// the view only (the segment is its owner's).
func (b *block) Close() error {
	if b.placed {
		return b.closePlaced()
	}
	return b.Handle.Close()
}

// Unlink removes the array's name; a placed array has none of its own (ErrInvalid: unlink its
// segment instead).
func (b *block) Unlink() error {
	if b.placed {
		return fmt.Errorf("%w: a placed array has no name of its own", ErrInvalid)
	}
	return b.Handle.Unlink()
}

// Closed reports whether this process closed the array (or its placed view).
func (b *block) Closed() bool {
	if b.placed {
		return b.closedPlaced.Load() || b.seg.Bytes() == nil
	}
	return b.Handle.Closed()
}

// spec is an array segment's; fill, if not nil, writes the first values (of len(data) bytes)
// before any other process can see the segment.
func spec(kind string, e elemInfo, n int, fill func(data []byte)) (object.Spec, error) {
	g, hdr, err := e.geometry(n, kind == kindValue)
	if err != nil {
		return object.Spec{}, err
	}
	return object.Spec{Kind: kind, Layout: layout(kind, e, n), Size: g.size, Variable: true,
		Init: func(b []byte) error {
			copy(b, hdr)
			if fill != nil {
				fill(b[g.npyLen : g.npyLen+g.dataLen])
			}
			return nil
		}}, nil
}

// opts adds the Trailer placement to the caller's options.
func opts(o []shm.Option) []shm.Option { return append([]shm.Option{shm.Trailer()}, o...) }

func makeBlock(kind string, e elemInfo, name string, n int, o []shm.Option, fill func([]byte)) (*block, error) {
	sp, err := spec(kind, e, n, fill)
	if err != nil {
		return nil, err
	}
	if name != "" {
		if err := shm.ValidateCreateName(name); err != nil {
			return nil, err
		}
	}
	seg, err := object.Make(sp, name, opts(o))
	if err != nil {
		return nil, err
	}
	return attachTyped(seg, kind, e)
}

func openBlock(kind string, e elemInfo, name string, o []shm.Option) (*block, error) {
	seg, err := object.Open(object.Spec{Kind: kind, Variable: true}, name, o)
	if kind == kindRaw && errors.Is(err, shm.ErrBadMagic) {
		// No shmkit header: a .npy file another program made (python/shmkit.py's create).
		seg, err = shm.Open(name, append([]shm.Option{shm.Raw()}, o...)...)
		if err != nil {
			return nil, err
		}
		b, err := attachNpy(seg, e)
		if err != nil {
			_ = seg.Close()
			return nil, err
		}
		return b, nil
	}
	if err != nil {
		return nil, err
	}
	return attachTyped(seg, kind, e)
}

// attachNpy lays a RawArray view over a plain .npy file, checking its descr and shape
// against T: the file's element type must be exactly T's, one dimension (T's own array
// dimensions aside), C order, and the data must all be there.
func attachNpy(seg *shm.Segment, e elemInfo) (*block, error) {
	b := seg.Bytes()
	npy, err := npyLen(b)
	if err != nil {
		return nil, fmt.Errorf("%w: neither a shmkit array nor a .npy file: %v", ErrType, err)
	}
	head := string(b[:npy])
	n := -1
	if d, _ := npyFirstDim(b[:npy]); len(d) > 0 {
		n, _ = strconv.Atoi(string(d))
	}
	want, _ := npyHeader(e.typ, max(n, 1), false)
	switch {
	case !strings.Contains(head, "'fortran_order': False"):
		return nil, fmt.Errorf("%w: a Fortran-ordered array", ErrType)
	case n < 1 || npyShape(head) != npyShape(string(want)) || npyDescr(b) != e.numpy:
		return nil, fmt.Errorf("%w: the file holds %s of shape %s, not %s × n (%s)", ErrType, npyDescr(b), npyShape(head), e.numpy, e.typ)
	case npy+n*e.size > len(b):
		return nil, fmt.Errorf("%w: %d elements of %d bytes in a %d-byte file", ErrCorrupt, n, e.size, len(b))
	}
	blk := &block{seg: seg, kind: kindRaw, n: n, data: unsafe.Pointer(&b[npy])}
	blk.Bind(seg)
	return blk, nil
}

// npyShape pulls the shape, parentheses included, out of a .npy header, for messages.
func npyShape(head string) string {
	if v, ok := npyValue([]byte(head), "shape"); ok && len(v) > 0 && v[0] == '(' {
		if end := bytes.IndexByte(v, ')'); end >= 0 {
			return string(v[:end+1])
		}
	}
	return "?"
}

// npyFirstDim returns the digits of the shape's first dimension (none for a () shape); false
// if the header has no shape tuple.
func npyFirstDim(head []byte) ([]byte, bool) {
	shape, ok := npyValue(head, "shape")
	if !ok || len(shape) == 0 || shape[0] != '(' {
		return nil, false
	}
	d := shape[1:]
	return d[:len(d)-len(bytes.TrimLeft(d, "0123456789"))], true
}

// npyValue returns what follows "'key': " in a .npy header's dict (to the header's end).
// The header is numpy's own repr of a dict with fixed keys, so no parser is needed (nor a
// regexp compiled at every program's start).
func npyValue(head []byte, key string) ([]byte, bool) {
	i := bytes.Index(head, []byte("'"+key+"': "))
	if i < 0 {
		return nil, false
	}
	return head[i+len(key)+4:], true
}

func openOrCreateBlock(kind string, e elemInfo, name string, n int, o []shm.Option) (*block, error) {
	sp, err := spec(kind, e, n, nil)
	if err != nil {
		return nil, err
	}
	seg, _, err := object.OpenOrCreate(sp, name, opts(o))
	if err != nil {
		return nil, err
	}
	return attachTyped(seg, kind, e)
}

// attachTyped checks that seg holds elements of e and builds the view, closing seg if not.
func attachTyped(seg *shm.Segment, kind string, e elemInfo) (*block, error) {
	b, err := attachBlock(seg)
	if err == nil {
		err = b.check(kind, e)
	}
	if err != nil {
		_ = seg.Close()
		return nil, err
	}
	return b, nil
}

// attachBlock reads an array segment's .npy header and lays the view over it.
func attachBlock(seg *shm.Segment) (*block, error) {
	b := seg.Bytes()
	npy, err := npyLen(b)
	if err != nil {
		return nil, err
	}
	n := 1 // a Value's shape is ()
	digits, ok := npyFirstDim(b[:npy])
	if !ok {
		return nil, fmt.Errorf("%w: .npy header without a shape", ErrCorrupt)
	}
	if len(digits) > 0 {
		if n, err = strconv.Atoi(string(digits)); err != nil || n < 1 {
			return nil, fmt.Errorf("%w: shape %q", ErrCorrupt, digits)
		}
	}
	kind := seg.Kind()
	if kind != kindRaw && kind != kindArray && kind != kindValue {
		return nil, fmt.Errorf("%w: a %q segment", shm.ErrKind, kind)
	}
	// The element's size is what is left between the header and the control block, per
	// element; the layout check that follows (check) settles the rest.
	ctl := len(b) - ctlSize
	if ctl < npy || ctl%64 != 0 {
		return nil, fmt.Errorf("%w: %d-byte payload", ErrCorrupt, len(b))
	}
	blk := &block{seg: seg, kind: kind, n: n, data: unsafe.Pointer(&b[npy])}
	// Sound: ctl is 64-byte aligned in a 128-byte aligned mapping.
	if blk.mu, err = sem.At[sem.Mutex](b, ctl); err != nil {
		return nil, err
	}
	blk.Bind(seg)
	return blk, nil
}

// check compares the segment with what the caller expects: the kind, and the element type
// through the layout fingerprint, naming both numpy types when they differ.
func (b *block) check(kind string, e elemInfo) error {
	if b.kind != kind {
		return fmt.Errorf("%w: segment holds a %s, not a %s", shm.ErrKind, b.kind, kind)
	}
	want := layout(kind, e, b.n)
	if b.seg.Fingerprint() == shm.Fingerprint(want) {
		g, _, err := e.geometry(b.n, kind == kindValue)
		if err == nil && g.size != b.seg.Size() {
			err = fmt.Errorf("%w: %d-byte payload for %d elements of %d bytes", ErrCorrupt, b.seg.Size(), b.n, e.size)
		}
		return err
	}
	have := npyDescr(b.seg.Bytes())
	return fmt.Errorf("%w: the segment holds %s × %d, not %s (%s)", ErrType, have, b.n, e.numpy, e.typ)
}

// npyDescr pulls the descr out of a .npy header, for messages.
func npyDescr(b []byte) string {
	if n, err := npyLen(b); err == nil {
		b = b[:n]
	}
	if v, ok := npyValue(b, "descr"); ok {
		if end := bytes.Index(v, []byte(", 'fortran_order'")); end >= 0 {
			return string(v[:end])
		}
	}
	return "?"
}

func init() {
	attach := func(h shm.Handle) (shm.Shareable, error) {
		if h.Offset != 0 {
			return nil, fmt.Errorf("%w: array at offset %d", ErrCorrupt, h.Offset)
		}
		return attachBlock(h.Segment)
	}
	shm.Register(blockType, attach)
	// Each kind attaches under its own name too, as every other segment kind does, so that a
	// tool that knows only a segment's kind (shmkit info) can attach it and print it.
	for _, kind := range []string{kindRaw, kindArray, kindValue} {
		shm.Register(kind, attach)
	}
}

// ShareHandle implements shm.Shareable: an array travels as its segment, and the receiving
// field (*RawArray[T], *Array[T], *Value[T]) rebuilds its typed view (shm.Adopter).
func (b *block) ShareHandle() (shm.Handle, error) {
	if b.Closed() {
		return shm.Handle{}, ErrClosed
	}
	if b.placed {
		return shm.Handle{Type: placedType, Segment: b.seg, Offset: int64(b.off), Param: b.placedParam()}, nil
	}
	return shm.Handle{Type: blockType, Segment: b.seg}, nil
}

// adopt turns the untyped block a child attached into the caller's typed view.
func adopt(s shm.Shareable, kind string, e elemInfo) (*block, error) {
	switch b := s.(type) {
	case *block:
		return b, b.check(kind, e)
	case *placedHandle:
		return adoptPlaced(b, kind, e)
	}
	return nil, fmt.Errorf("%w: a %T is not an array", ErrInvalid, s)
}
