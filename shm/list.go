package shm

import "time"

// Info describes a segment found by List or Stat.
type Info struct {
	Name        string
	Kind        string    // from the header; "" for plain and Raw segments
	Raw         bool      // made with the Raw option: no header, so most fields are unknown
	Size        int64     // payload bytes (the whole file for Raw)
	FileSize    int64     // bytes in the backing file, header included
	Fingerprint uint64    // layout fingerprint, 0 if none
	CreatorPID  int       // pid of the process that created it
	Created     time.Time // when it was created
	Ready       bool      // the creator finished initialising it
	Anonymous   bool      // made by Anonymous (only seen through Stat of an fd path)
	Stale       bool      // no process has it open or mapped: Reclaim would remove it
	Attached    []int     // pids holding it open or mapped, where the OS tells (Linux); nil otherwise
	Problem     string    // why its header does not validate, "" when it does

	dev, ino  uint64
	uid, perm uint32
}

type fileID struct{ dev, ino uint64 }

func (i *Info) fill(h *header, err error) {
	if err != nil {
		i.Problem = err.Error()
		return
	}
	i.Kind = h.kind()
	i.Size = int64(h.PayloadSize)
	i.Fingerprint = h.Fingerprint
	i.CreatorPID = int(h.CreatorPID)
	i.Created = time.Unix(0, h.Created)
	i.Ready = h.State == stateReady
	i.Anonymous = h.Flags&flagAnonymous != 0
}

// List returns every shmkit segment on this machine (made with a header, or marked as Raw by
// shmkit), sorted by name, with whether it is stale. Files other programs keep in the same
// directory are not listed. On Windows, which cannot enumerate sections, it is ErrNotSupported.
func List() ([]Info, error) { return list() }

// Stat describes one named segment, as List would.
func Stat(name string) (Info, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, err
	}
	return stat(name)
}

// ReclaimOptions narrows what Reclaim does.
type ReclaimOptions struct {
	DryRun bool   // only report what would be removed
	Prefix string // only segments whose name starts with Prefix ("" for all)
}

// Reclaim removes every stale segment: one that no process holds open or maps, because its
// users have all closed it or died (even by SIGKILL: the kernel drops their locks and their
// mappings). Two checks must agree: no process holds shmkit's lock on the file, and (on Linux)
// no process has the file open or mapped according to /proc, which is how a Raw segment that
// Python, numpy or a C program maps without that lock is seen. If some process that could use
// the file cannot be inspected (another user's, or one in another pid namespace), the segment
// is kept. A segment in use is never removed, nor a file that is not shmkit's. It also removes
// the temporary files of creates whose process died. It returns what it removed.
func Reclaim(o ReclaimOptions) ([]Info, error) { return reclaim(o) }
