// Package object is the kit every shmkit object made whole by a constructor is built on: one
// object alone in a segment of its own, made anonymous (New…) or named (Create…), attached by
// name (Open…) or either (OpenOrCreate…), validated on attach by its segment's kind and layout
// fingerprint, and detached by this process alone (Close), with a process-local closed flag so
// that use after Close is an error, never a touch of unmapped memory.
package object

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// LineSize is the padding between shared words that different processes write: 128 bytes,
// not cpu.CacheLinePad, whose size varies by GOARCH (a layout must not).
const LineSize = 128

// ErrClosed is returned by a Handle's methods after Close. It is shm.ErrClosed.
var ErrClosed = shm.ErrClosed

// A Spec says how to make one kind of object.
type Spec struct {
	Kind   string                     // the segment kind, such as "sem.Mutex"
	Layout string                     // the layout descriptor, hashed into the fingerprint
	Size   int                        // payload bytes
	Init   func(payload []byte) error // prepares a fresh payload before anyone can see it
	// Variable says the layout depends on parameters the creator chose (a ring's capacity):
	// Open then checks the kind only, and the object's own attach reads the parameters from
	// the payload and checks the fingerprint against them.
	Variable bool
}

func (s Spec) options(opts []shm.Option) []shm.Option {
	out := []shm.Option{shm.Kind(s.Kind), shm.Layout(s.Layout), shm.Init(func(b []byte) error {
		if s.Init == nil {
			return nil
		}
		return s.Init(b)
	})}
	return append(out, opts...)
}

// Make makes the object's segment: anonymous if name is "", else named (ErrExist if taken).
func Make(s Spec, name string, opts []shm.Option) (*shm.Segment, error) {
	if name == "" {
		return shm.Anonymous(s.Size, s.options(opts)...)
	}
	return shm.Create(name, s.Size, s.options(opts)...)
}

// Open attaches the named object's segment, checking its kind and layout (ErrNotExist if the
// name is free, shm.ErrKind or shm.ErrFingerprint if it holds something else).
func Open(s Spec, name string, opts []shm.Option) (*shm.Segment, error) {
	check := []shm.Option{shm.Kind(s.Kind)}
	if !s.Variable {
		check = append(check, shm.Layout(s.Layout))
	}
	return shm.Open(name, append(check, opts...)...)
}

// OpenOrCreate attaches the named object, or makes it if the name is free; created reports
// which. Two processes racing on a fresh name get one object: one creates, the other attaches.
func OpenOrCreate(s Spec, name string, opts []shm.Option) (seg *shm.Segment, created bool, err error) {
	for range 3 {
		seg, err = Make(s, name, opts)
		if err == nil {
			return seg, true, nil
		}
		if !errors.Is(err, shm.ErrExist) {
			return nil, false, err
		}
		seg, err = Open(s, name, opts)
		if !errors.Is(err, shm.ErrNotExist) { // unlinked between the two: try again
			return seg, false, err
		}
	}
	return nil, false, err
}

// A Handle is the process-local half of an object: its segment and whether this process has
// closed it. Embed it (by value) in the object's type.
type Handle struct {
	seg    *shm.Segment
	closed atomic.Bool
}

// Bind records the segment the object lives in.
func (h *Handle) Bind(seg *shm.Segment) { h.seg = seg }

// Closed reports whether this process closed the object, or its segment (a shm.Scope does).
func (h *Handle) Closed() bool { return h.closed.Load() || h.seg != nil && h.seg.Closed() }

// Close detaches this process from the object; the object lives on for the others (and, if
// it is named, until its name is unlinked). A second Close is ErrClosed.
func (h *Handle) Close() error {
	if h.closed.Swap(true) {
		return ErrClosed
	}
	return h.seg.Close()
}

// Unlink removes the object's name (before or after Close); processes that have it keep it.
// An anonymous object has no name: nil.
func (h *Handle) Unlink() error { return h.seg.Unlink() }

// Segment returns the segment the object lives in.
func (h *Handle) Segment() *shm.Segment { return h.seg }

// Name returns the object's name, "" if anonymous.
func (h *Handle) Name() string { return h.seg.Name() }

// Label is an object's name as its String shows it: "anonymous" for none. (A function, not a
// Handle method: those are promoted into every object's API.)
func Label(name string) string {
	if name != "" {
		return name
	}
	return "anonymous"
}

// At returns the T at b[off:], checking that it fits and that its address is a multiple of
// align. Sound for the caller's T as long as T is laid out for shared memory (fixed size, no
// pointers) and b stays mapped, which the GC rule guarantees for a segment's Bytes.
func At[T any](b []byte, off, align int) (*T, error) {
	var t T
	size := int(unsafe.Sizeof(t))
	if off < 0 || off > len(b)-size {
		return nil, fmt.Errorf("%w: %d bytes at offset %d of %d", ErrOutOfRange, size, off, len(b))
	}
	p := unsafe.Pointer(&b[off])
	if uintptr(p)%uintptr(align) != 0 {
		return nil, fmt.Errorf("%w: offset %d (address %#x) is not a multiple of %d", ErrMisaligned, off, uintptr(p), align)
	}
	return (*T)(p), nil
}

// Errors of At.
var (
	ErrOutOfRange = errors.New("object out of range")
	ErrMisaligned = errors.New("object misaligned")
)
