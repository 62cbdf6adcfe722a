package shm

import (
	"fmt"
	"sync"
)

// Shareable is implemented by every object that can travel to another process inside the
// argument of a procs entry: a Segment, and the pipes, queues, locks and arrays that live in
// segments. The launcher asks each one for its Handle, hands the segment over (by name, or as
// an inherited fd when it is anonymous), and the receiving process rebuilds the object with the
// AttachFunc registered under Handle.Type.
type Shareable interface {
	ShareHandle() (Handle, error)
}

// An Adopter is a type that wraps a shared object of another type (a typed view of a queue,
// say) and travels as that object. A child receiving a field of type *W, where *W implements
// Adopter, attaches the wrapped object and calls Adopt on a new W.
type Adopter interface {
	Adopt(Shareable) error
}

// An Expecter is a shared object that keeps the list of processes attached to it, so that a
// process waiting on it can tell a peer's death from a peer's departure. A launcher that hands
// the object to a child calls Expect with the child's pid after starting the child and before
// the child can attach it: a child that dies before it attaches then counts as a member that
// died, not as one that never came.
type Expecter interface {
	Expect(pid int) error
}

// A Handle locates a shareable object: the segment it lives in, where in the payload, and the
// registered type that knows how to rebuild it.
type Handle struct {
	Type    string   // the name its AttachFunc was registered under
	Segment *Segment // the segment it lives in; in the receiver, the receiver's own mapping
	Offset  int64    // byte offset of the object within the payload
	Param   []byte   // small type-specific data (a capacity, say); nil for most types
}

// An AttachFunc rebuilds a shared object in the receiving process from its Handle. It must
// validate what it reads from the segment: the sender may be another build of the program.
type AttachFunc func(h Handle) (Shareable, error)

var (
	attachMu  sync.RWMutex
	attachers = map[string]AttachFunc{}
)

// Register makes typ attachable in a receiving process. Call it from an init function, so that
// every process of the program has the same registry. It panics if typ is empty or taken.
func Register(typ string, fn AttachFunc) {
	attachMu.Lock()
	defer attachMu.Unlock()
	if typ == "" || fn == nil {
		panic("shm: Register with empty type or nil func")
	}
	if _, dup := attachers[typ]; dup {
		panic("shm: Register called twice for " + typ)
	}
	attachers[typ] = fn
}

// Attach rebuilds the object h describes, through the AttachFunc registered for h.Type.
func Attach(h Handle) (Shareable, error) {
	attachMu.RLock()
	fn := attachers[h.Type]
	attachMu.RUnlock()
	if fn == nil {
		return nil, fmt.Errorf("%w: %q (is its package linked into this program?)", ErrUnknownType, h.Type)
	}
	if h.Segment == nil {
		return nil, fmt.Errorf("shm: attach %s: handle has no segment", h.Type)
	}
	if h.Offset < 0 || h.Offset > int64(h.Segment.Size()) {
		return nil, fmt.Errorf("%w: %s at offset %d of a %d-byte payload", ErrSize, h.Type, h.Offset, h.Segment.Size())
	}
	return fn(h)
}

const segmentType = "shm.Segment"

func init() {
	Register(segmentType, func(h Handle) (Shareable, error) { return h.Segment, nil })
}

// ShareHandle implements Shareable: a Segment travels as itself.
func (s *Segment) ShareHandle() (Handle, error) {
	if s.closed.Load() {
		return Handle{}, fmt.Errorf("shm: share %q: %w", s.name, ErrClosed)
	}
	return Handle{Type: segmentType, Segment: s}, nil
}

// A Ref is what another process needs to map a segment: its name, or for an anonymous segment
// the fact that its fd is passed alongside, and what to expect of its header.
type Ref struct {
	Name        string // "" for an anonymous segment
	Raw         bool
	Kind        string
	Fingerprint uint64
}

// Ref describes s for another process.
func (s *Segment) Ref() Ref {
	return Ref{Name: s.name, Raw: s.raw, Kind: s.kind, Fingerprint: s.fp}
}

// OpenRef maps the segment r describes: by name, or, for an anonymous segment, through fd
// (which the Segment then owns). The header must match r's kind and fingerprint.
func OpenRef(r Ref, fd uintptr) (*Segment, error) {
	opts := []Option{WithFingerprint(r.Fingerprint), Kind(r.Kind)}
	if r.Raw {
		opts = []Option{Raw()}
	}
	if r.Name == "" {
		return OpenFD(fd, opts...)
	}
	return Open(r.Name, opts...)
}
