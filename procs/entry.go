package procs

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/shm"
)

// An EntryPoint is a function a child process can run, registered by name with Entry. Start
// runs it in a new process of the same program.
type EntryPoint[A any] struct {
	name string
	late bool // registered after Main: a child would not know it
}

// entry is the type-erased form the child looks up by name.
type entry struct {
	// prepare decodes the argument (attaching shared objects through attach) and returns the
	// call to make.
	prepare func(args []byte, attach func(int) (shm.Shareable, error)) (func(context.Context) error, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*entry{}
	mainCalled atomic.Bool
)

// Entry registers fn under name, so a child process can run it, and returns the EntryPoint
// that starts it. Call it in a package-level var declaration, so every process of the program
// registers the same entries before main runs:
//
//	var worker = procs.Entry("worker", func(ctx context.Context, a WorkerArgs) error { … })
//
// The argument type A travels to the child: plain fields are encoded, and values whose type
// implements shm.Shareable (segments, and the queues, locks and arrays in them) travel as
// handles and arrive attached. Entry panics if name is empty or already taken, as flag does.
func Entry[A any](name string, fn func(ctx context.Context, args A) error) *EntryPoint[A] {
	if name == "" || fn == nil {
		panic("procs: Entry needs a name and a func")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("procs: Entry registered twice: " + name)
	}
	registry[name] = &entry{prepare: func(b []byte, attach func(int) (shm.Shareable, error)) (func(context.Context) error, error) {
		var a A
		d := codec.Decoder{Attach: attach}
		rest, err := d.Decode(b, reflect.ValueOf(&a).Elem())
		if err != nil {
			return nil, codec.AtPath(err, "args")
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("%d bytes left over after the argument", len(rest))
		}
		return func(ctx context.Context) error { return fn(ctx, a) }, nil
	}}
	return &EntryPoint[A]{name: name, late: mainCalled.Load()}
}

// An EntryPoint0 is an entry whose function takes no argument (Python's Process(target=f)
// with no args): Entry0 registers it.
type EntryPoint0 struct{ e *EntryPoint[struct{}] }

// Entry0 registers fn, which takes no argument, under name: Entry without the argument.
//
//	var tick = procs.Entry0("tick", func(ctx context.Context) error { … })
//	p, err := tick.Start(ctx)
func Entry0(name string, fn func(ctx context.Context) error) *EntryPoint0 {
	if fn == nil {
		panic("procs: Entry0 needs a func")
	}
	return &EntryPoint0{Entry(name, func(ctx context.Context, _ struct{}) error { return fn(ctx) })}
}

// Name returns the name the entry was registered under.
func (e *EntryPoint0) Name() string { return e.e.Name() }

// Start runs the entry in a new process and returns at once (see EntryPoint.Start).
func (e *EntryPoint0) Start(ctx context.Context, opts ...Option) (*Process, error) {
	return e.e.Start(ctx, struct{}{}, opts...)
}

// Run starts the entry and waits for it: Start followed by Wait.
func (e *EntryPoint0) Run(ctx context.Context, opts ...Option) error {
	return e.e.Run(ctx, struct{}{}, opts...)
}

func lookup(name string) *entry {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return registry[name]
}

// Name returns the name the entry was registered under.
func (e *EntryPoint[A]) Name() string { return e.name }

// Start runs the entry in a new process with args and returns at once. The child re-executes
// this program, whose main must call Main first. ctx bounds the child's life: when ctx is done
// the child gets SIGTERM, then SIGKILL after the grace period (see GracePeriod).
//
// Start fails with ErrEncode if args holds something that cannot travel, ErrNoMain if Main was
// never called, and ErrLateEntry if the entry was registered after Main ran.
func (e *EntryPoint[A]) Start(ctx context.Context, args A, opts ...Option) (*Process, error) {
	switch {
	case e.late:
		return nil, fmt.Errorf("%w: %q", ErrLateEntry, e.name)
	case !mainCalled.Load():
		return nil, ErrNoMain
	}
	return startEntry(ctx, e.name, opts, reflect.ValueOf(&args).Elem())
}

// Run starts the entry and waits for it: Start followed by Wait.
func (e *EntryPoint[A]) Run(ctx context.Context, args A, opts ...Option) error {
	p, err := e.Start(ctx, args, opts...)
	if err != nil {
		return err
	}
	return p.WaitContext(ctx)
}

// The launch spec, sent to the child through a pipe, encoded with the codec above.
type launchSpec struct {
	Segments []segmentSpec
	Handles  []handleSpec
	Args     []byte
}

type segmentSpec struct {
	Ref  shm.Ref
	File int // index into the inherited files, or -1 for a named segment
}

type handleSpec struct {
	Type   string
	Seg    int
	Offset int64
	Param  []byte
}

// sharer collects the shareable objects found while encoding an argument: one segmentSpec per
// distinct segment, one handleSpec per object, and a duplicate of each anonymous segment's fd.
type sharer struct {
	spec  launchSpec
	index map[*shm.Segment]int
	files []*os.File
	objs  []shm.Shareable // in handle order
}

func (s *sharer) share(obj shm.Shareable) (int, error) {
	h, err := obj.ShareHandle()
	if err != nil {
		return 0, err
	}
	s.objs = append(s.objs, obj)
	seg := h.Segment
	if seg == nil || seg.Bytes() == nil {
		return 0, fmt.Errorf("%s: %w", h.Type, shm.ErrClosed)
	}
	si, ok := s.index[seg]
	if !ok {
		ss := segmentSpec{Ref: seg.Ref(), File: -1}
		if ss.Ref.Name == "" {
			f, err := dupForChild(seg.Fd())
			if err != nil {
				return 0, err
			}
			s.files = append(s.files, f)
			ss.File = len(s.files) - 1
		}
		if s.index == nil {
			s.index = map[*shm.Segment]int{}
		}
		si = len(s.spec.Segments)
		s.index[seg] = si
		s.spec.Segments = append(s.spec.Segments, ss)
	}
	s.spec.Handles = append(s.spec.Handles, handleSpec{Type: h.Type, Seg: si, Offset: h.Offset, Param: h.Param})
	return len(s.spec.Handles) - 1, nil
}

// expect tells every object that keeps a member list that the child pid is about to attach
// it (shm.Expecter), before the child can read its spec: a child that dies before attaching
// then shows as a member that died.
func (s *sharer) expect(pid int) error {
	for _, obj := range s.objs {
		if e, ok := obj.(shm.Expecter); ok {
			if err := e.Expect(pid); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *sharer) closeFiles() {
	for _, f := range s.files {
		_ = f.Close()
	}
}
