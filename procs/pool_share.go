package procs

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/shmkit/shmkit/internal/codec"
	"github.com/shmkit/shmkit/shm"
)

// Shared objects in a task's inputs (a RawArray to work on in place, say) travel as handles,
// as in an entry's argument. A named segment is opened by name; an anonymous one through the
// pool process's own descriptor (/proc/<pid>/fd/<n> on Linux; on Windows the worker duplicates
// the pool's handle into itself). The file's identity (device and inode; on Windows the
// segment's ID) travels too: a worker maps each segment once and reuses the mapping for every
// later task that names the same file, so passing an array in each task costs a lookup, not
// an mmap.

type taskHandle struct {
	Type     string
	Offset   int64
	Param    []byte
	Ref      shm.Ref
	Pid      int
	Fd       int64
	Dev, Ino uint64
}

type taskHandles struct{ list []taskHandle }

func (t *taskHandles) share(obj shm.Shareable) (int, error) {
	h, err := obj.ShareHandle()
	if err != nil {
		return 0, err
	}
	seg := h.Segment
	if seg == nil || seg.Bytes() == nil {
		return 0, fmt.Errorf("%s: %w", h.Type, shm.ErrClosed)
	}
	th := taskHandle{Type: h.Type, Offset: h.Offset, Param: h.Param, Ref: seg.Ref(), Pid: os.Getpid(), Fd: int64(seg.Fd())}
	if th.Ref.Name == "" && !peerFDs {
		return 0, fmt.Errorf("%w: an anonymous segment (%s) travels in a Pool task only on Linux and Windows; use a named one, or pass it in the pool's Init", ErrNotSupported, h.Type)
	}
	if th.Dev, th.Ino, err = fileID(seg); err != nil {
		return 0, err
	}
	if th.Dev == 0 && th.Ino == 0 { // off Unix, a raw anonymous segment (its ID is 0)
		return 0, fmt.Errorf("%w: a raw anonymous segment (%s) has no identity to travel in a Pool task by here; use a named one, or pass it in the pool's Init", ErrNotSupported, h.Type)
	}
	t.list = append(t.list, th)
	return len(t.list) - 1, nil
}

// segKey is a segment's identity: device and inode, or (off Unix) 0 and its ID.
type segKey struct{ dev, ino uint64 }

type objKey struct {
	seg    segKey
	typ    string
	offset int64
	param  string
}

// attached is a worker's cache of the segments and objects its tasks have named.
var attached struct {
	sync.Mutex
	segs map[segKey]*shm.Segment
	objs map[objKey]shm.Shareable
}

// maxAttached bounds the cache; beyond it, the mappings of earlier tasks are dropped (an
// object that arrives in a task is the task's to use while it runs).
const maxAttached = 256

// taskAttacher reads the handle table at the start of a shared task's payload and returns
// the attach function for its inputs, and the inputs.
func taskAttacher(b []byte) (attachFunc, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("a handle table cut short")
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > len(b)-4 {
		return nil, nil, fmt.Errorf("a handle table of %d bytes in a %d-byte payload", n, len(b))
	}
	var list []taskHandle
	if err := codec.Unmarshal(b[4:4+n], &list); err != nil {
		return nil, nil, err
	}
	return func(i int) (shm.Shareable, error) {
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("handle %d of %d", i, len(list))
		}
		return attachTaskObject(list[i])
	}, b[4+n:], nil
}

func attachTaskObject(h taskHandle) (shm.Shareable, error) {
	attached.Lock()
	defer attached.Unlock()
	sk := segKey{dev: h.Dev, ino: h.Ino}
	ok := objKey{seg: sk, typ: h.Type, offset: h.Offset, param: string(h.Param)}
	if obj := attached.objs[ok]; obj != nil {
		return obj, nil
	}
	seg := attached.segs[sk]
	if seg == nil {
		if len(attached.segs) >= maxAttached {
			dropAttachedLocked()
		}
		var err error
		if seg, err = openTaskSegment(h); err != nil {
			return nil, err
		}
		if attached.segs == nil {
			attached.segs, attached.objs = map[segKey]*shm.Segment{}, map[objKey]shm.Shareable{}
		}
		attached.segs[sk] = seg
	}
	obj, err := shm.Attach(shm.Handle{Type: h.Type, Segment: seg, Offset: h.Offset, Param: h.Param})
	if err != nil {
		return nil, err
	}
	attached.objs[ok] = obj
	return obj, nil
}

func openTaskSegment(h taskHandle) (*shm.Segment, error) {
	var fd uintptr
	if h.Ref.Name == "" {
		f, err := openPeerFD(h.Pid, int(h.Fd))
		if err != nil {
			return nil, err
		}
		fd = f
	}
	seg, err := shm.OpenRef(h.Ref, fd)
	if err != nil {
		return nil, err
	}
	if dev, ino, err := fileID(seg); err != nil || dev != h.Dev || ino != h.Ino {
		_ = seg.Close()
		return nil, fmt.Errorf("%w: segment %q is no longer the file the pool sent (replaced since?)", shm.ErrNotExist, h.Ref.Name)
	}
	return seg, nil
}

func dropAttachedLocked() {
	for k, obj := range attached.objs {
		if c, ok := obj.(interface{ Close() error }); ok {
			_ = c.Close()
		}
		delete(attached.objs, k)
	}
	for k, seg := range attached.segs {
		_ = seg.Close()
		delete(attached.segs, k)
	}
}
