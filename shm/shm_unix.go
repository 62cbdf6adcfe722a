//go:build linux || darwin

package shm

import (
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// file is an open segment file. Every process that has a segment open holds a shared flock on
// its file; the kernel drops it when the process dies, however it dies, so a segment that takes
// an exclusive non-blocking flock has no live user (see List and Reclaim).
type file struct {
	fdn      int
	dev, ino uint64
	temp     string // while being created without O_TMPFILE: the file's temporary path
}

func (f *file) fd() uintptr               { return uintptr(f.fdn) }
func (f *file) exactSize() bool           { return true }
func unmap(b []byte) error                { return unix.Munmap(b) }
func segmentPath(dir, name string) string { return dir + "/" + name }

func (f *file) close() error {
	if f.fdn < 0 {
		return nil
	}
	fd := f.fdn
	f.fdn = -1
	return unix.Close(fd)
}

func (f *file) size() (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fdn, &st); err != nil {
		return 0, err
	}
	f.dev, f.ino = uint64(st.Dev), uint64(st.Ino)
	return st.Size, nil
}

func (f *file) mmap(n int, populate bool) ([]byte, error) {
	flags := unix.MAP_SHARED
	if populate {
		flags |= mapPopulate
	}
	b, err := unix.Mmap(f.fdn, 0, n, unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", n, err)
	}
	return b, nil
}

// createFile makes the file of a new segment, sized, locked and not yet visible under name:
// the creator fills and publishes it, then links it into place (publish). A creator killed
// before then leaves nothing that an opener, ls or a later Create can see.
func createFile(name string, total int64, cfg *config) (f *file, err error) {
	dir, err := segmentDir()
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	// Fail early, before the allocation, if the name is taken; publish has the last word.
	var st unix.Stat_t
	if unix.Lstat(segmentPath(dir, name), &st) == nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: unix.EEXIST}
	}
	nf, err := unnamedFile(dir, cfg.perm)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	f = nf
	defer func() {
		if err != nil {
			nf.discard()
			_ = nf.close()
			f, err = nil, &fs.PathError{Op: "create", Path: name, Err: err}
		}
	}()
	// Lock before anything else: the file counts as in use from its first moment.
	if err = flock(f.fdn, unix.LOCK_SH); err != nil {
		return nil, err
	}
	if err = unix.Fchmod(f.fdn, uint32(cfg.perm)); err != nil { // the umask must not apply
		return nil, err
	}
	if err = allocate(f.fdn, name, total); err != nil {
		return nil, err
	}
	if cfg.raw {
		markRaw(f.fdn)
	}
	_, err = f.size()
	return f, err
}

// tempPrefix starts the names of files being created where the system has no unnamed files
// (O_TMPFILE); no segment name starts with '.', and Reclaim removes the ones left by a creator
// that died.
const tempPrefix = ".shmkit-tmp-"

var tempSeq atomic.Uint64

// tempFile makes a uniquely named file in dir to publish later by link.
func tempFile(dir string, perm fs.FileMode) (*file, error) {
	for {
		path := fmt.Sprintf("%s/%s%d-%d", dir, tempPrefix, os.Getpid(), tempSeq.Add(1))
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm))
		if err == unix.EEXIST {
			continue // a dead process's leftover under a reused pid
		}
		if err != nil {
			return nil, err
		}
		return &file{fdn: fd, temp: path}, nil
	}
}

// publish gives the new segment its name, atomically: the link fails with ErrExist if the name
// was taken meanwhile, and never replaces a file.
func (f *file) publish(name string) error {
	dir, err := segmentDir()
	if err == nil {
		path := segmentPath(dir, name)
		if f.temp != "" {
			err = unix.Link(f.temp, path)
			if err == nil {
				f.discard()
			}
		} else {
			err = linkUnnamed(f.fdn, path)
		}
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: name, Err: err}
	}
	return nil
}

// discard removes the temporary name of a file being created, if it has one.
func (f *file) discard() {
	if f.temp != "" {
		_ = unix.Unlink(f.temp)
		f.temp = ""
	}
}

// openFile opens an existing segment and takes the shared lock. alone reports that nobody else
// held the segment at that moment (an exclusive lock succeeded first), so no creator is busy.
func openFile(name string) (f *file, alone bool, err error) {
	dir, err := segmentDir()
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fd, err := unix.Open(segmentPath(dir, name), unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	alone = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil
	if err = flock(fd, unix.LOCK_SH); err == nil { // converts our exclusive lock if we took one
		f = &file{fdn: fd}
		var st unix.Stat_t
		if err = unix.Fstat(fd, &st); err == nil && st.Nlink == 0 {
			err = fmt.Errorf("%w: removed while opening", ErrNotExist) // a reclaimer won the race
		}
		if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
			err = fmt.Errorf("%w: not a regular file", ErrBadMagic)
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, false, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, alone, nil
}

func fileFromFD(fd uintptr) (*file, error) {
	n := int(fd)
	unix.CloseOnExec(n)
	// An inherited fd shares the parent's open file description, and with it the lock; taking
	// it again is a no-op there and a real lock for an fd that came from elsewhere.
	if err := flock(n, unix.LOCK_SH); err != nil {
		_ = unix.Close(n)
		return nil, fmt.Errorf("shm: fd %d: %w", n, err)
	}
	return &file{fdn: n}, nil
}

// unlink removes name if it still names this file, not one made since under the same name.
func (f *file) unlink(name string) error {
	dir, err := segmentDir()
	if err == nil {
		path := segmentPath(dir, name)
		var st unix.Stat_t
		if err = unix.Lstat(path, &st); err == nil {
			if uint64(st.Dev) != f.dev || uint64(st.Ino) != f.ino {
				err = fmt.Errorf("%w: the name now refers to another segment", ErrNotExist)
			} else {
				err = unix.Unlink(path)
			}
		}
	}
	if err != nil {
		return &fs.PathError{Op: "unlink", Path: name, Err: err}
	}
	return nil
}

// removeName unlinks name after checking that it is a segment shmkit made: a regular file
// with a shmkit header (damaged or not) or a Raw mark. Anything else in the directory belongs
// to another program and is refused, saying what it is.
func removeName(name string) error {
	dir, err := segmentDir()
	if err == nil {
		path := segmentPath(dir, name)
		if err = checkOurs(path); err == nil {
			err = unix.Unlink(path)
		}
	}
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

func checkOurs(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	if what := fileType(uint32(st.Mode)); what != "" {
		return fmt.Errorf("%w: it is %s", ErrBadMagic, what)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if b, n := readHeader(fd, st.Size); n >= 8 && [8]byte(b[:8]) == magic || isRawMarked(fd) {
		return nil
	}
	return fmt.Errorf("%w: a %d-byte file with neither a shmkit header nor shmkit's Raw mark (another program's)", ErrBadMagic, st.Size)
}

// readHeader reads the header at the start of a file of size bytes or, if the start is not
// one, the header that trails it (see Trailer); n is how many bytes it read.
func readHeader(fd int, size int64) (b [HeaderSize]byte, n int) {
	n, _ = unix.Pread(fd, b[:], 0)
	if n >= 8 && [8]byte(b[:8]) == magic || size < HeaderSize {
		return b, n
	}
	var t [HeaderSize]byte
	if m, _ := unix.Pread(fd, t[:], size-HeaderSize); m == HeaderSize && [8]byte(t[:8]) == magic {
		return t, m
	}
	return b, n
}

// fileType names a file that is not a regular one ("" for a regular file).
func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return ""
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "a device or other special file"
}

// removeStaleTemp removes a file a creator left while it was making a segment, once nobody
// holds it (the creator died).
func removeStaleTemp(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
		_ = unix.Unlink(path)
	}
}

// flock takes a blocking lock, retrying when a signal (Go's preemption signal among them)
// interrupts the wait.
func flock(fd, how int) error {
	for {
		if err := unix.Flock(fd, how); err != unix.EINTR {
			return err
		}
	}
}

// scan calls visit for each shmkit segment in the directory. While visit runs, scan holds an
// exclusive lock on a stale segment, so no process can attach it before visit decides.
func scan(visit func(path string, info *Info) error) error {
	dir, err := segmentDir()
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	holders := lockHolders()
	users := newUserLookup(dir)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() {
			removeStaleTemp(segmentPath(dir, e.Name()))
			continue
		}
		if !e.Type().IsRegular() || ValidateName(e.Name()) != nil {
			continue
		}
		path := segmentPath(dir, e.Name())
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		info, ok := probe(fd, e.Name())
		if ok {
			info.Attached = holders[fileID{info.dev, info.ino}]
			users.check(&info)
			err = visit(path, &info)
		}
		_ = unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

// probe reads a file's header (or raw marker) and whether anyone holds it. It never trusts the
// file: a short or garbled header is reported in Info.Problem.
func probe(fd int, name string) (Info, bool) {
	info := Info{Name: name}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return info, false
	}
	info.FileSize, info.Size = st.Size, st.Size
	info.dev, info.ino = uint64(st.Dev), uint64(st.Ino)
	info.uid, info.perm = st.Uid, uint32(st.Mode)&0o777
	b, n := readHeader(fd, st.Size)
	if n >= len(magic) && [8]byte(b[:8]) == magic {
		h, err := parseHeader(b[:n])
		info.fill(&h, err)
		switch want := fileLen(&h); {
		case err != nil && n < HeaderSize:
			info.Size = 0
			info.Problem = fmt.Sprintf("truncated: the file has %d bytes, a header needs %d", st.Size, HeaderSize)
		case err != nil:
			info.Size = 0
		case want > info.FileSize:
			info.Problem = fmt.Sprintf("truncated: header says %d bytes, file has %d", want, info.FileSize)
		case want < info.FileSize:
			info.Problem = fmt.Sprintf("size mismatch: header says %d bytes, file has %d", want, info.FileSize)
		}
	} else if isRawMarked(fd) {
		info.Raw, info.Ready = true, true
	} else {
		return info, false
	}
	info.Stale = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil
	return info, true
}

func list() ([]Info, error) {
	var out []Info
	err := scan(func(_ string, info *Info) error {
		out = append(out, *info)
		return nil
	})
	return out, err
}

func reclaim(o ReclaimOptions) ([]Info, error) {
	var out []Info
	err := scan(func(path string, info *Info) error {
		if !info.Stale || !strings.HasPrefix(info.Name, o.Prefix) {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil || uint64(st.Ino) != info.ino || uint64(st.Dev) != info.dev {
			return nil // replaced since we looked
		}
		if !o.DryRun {
			if err := unix.Unlink(path); err != nil {
				return &fs.PathError{Op: "reclaim", Path: info.Name, Err: err}
			}
		}
		out = append(out, *info)
		return nil
	})
	return out, err
}

func stat(name string) (Info, error) {
	dir, err := segmentDir()
	if err != nil {
		return Info{}, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	fd, err := unix.Open(segmentPath(dir, name), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return Info{}, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	defer unix.Close(fd)
	holders := lockHolders() // before probe takes its own lock
	info, ok := probe(fd, name)
	if !ok {
		return info, &fs.PathError{Op: "stat", Path: name, Err: ErrBadMagic}
	}
	info.Attached = holders[fileID{info.dev, info.ino}]
	newUserLookup(dir).check(&info)
	return info, nil
}
