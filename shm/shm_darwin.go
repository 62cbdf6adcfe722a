//go:build darwin

package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// On macOS named segments are files in a private per-user directory under $TMPDIR, mapped
// MAP_SHARED: the same semantics as Linux's /dev/shm (names, unlink, flock liveness) without
// shm_open, whose objects cannot be listed, sized twice or locked.
const mapPopulate = 0

var (
	dirOnce sync.Once
	dirPath string
	dirErr  error
	anonSeq atomic.Uint64
)

func segmentDir() (string, error) {
	dirOnce.Do(func() {
		uid := os.Getuid()
		d := filepath.Join(os.TempDir(), "shmkit-"+strconv.Itoa(uid))
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			dirErr = err
			return
		}
		var st unix.Stat_t
		if err := unix.Lstat(d, &st); err != nil {
			dirErr = err
			return
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != uid || st.Mode&0o077 != 0 {
			dirErr = fmt.Errorf("shm: %s is not a private directory owned by uid %d", d, uid)
			return
		}
		dirPath = d
	})
	return dirPath, dirErr
}

func allocate(fd int, name string, total int64) error {
	err := unix.Ftruncate(fd, total)
	if err == unix.ENOSPC {
		return fmt.Errorf("%w: segment %q needs %d bytes: %v", ErrNoSpace, name, total, err)
	}
	return err
}

// anonymousFile makes a file in the private directory and unlinks it at once.
func anonymousFile(total int64) (*file, error) {
	dir, err := segmentDir()
	if err != nil {
		return nil, err
	}
	path := fmt.Sprintf("%s/.anon-%d-%d", dir, os.Getpid(), anonSeq.Add(1))
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("shm: anonymous segment: %w", err)
	}
	_ = unix.Unlink(path)
	if err = allocate(fd, "(anonymous)", total); err == nil {
		err = flock(fd, unix.LOCK_SH)
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("shm: anonymous segment: %w", err)
	}
	f := &file{fdn: fd}
	_, err = f.size()
	return f, err
}

// unnamedFile: macOS has no O_TMPFILE; the file gets a temporary name until publish.
func unnamedFile(dir string, perm fs.FileMode) (*file, error) { return tempFile(dir, perm) }

func linkUnnamed(int, string) error { return unix.ENOTSUP } // never called: every file has a temp name

func markRaw(int) {}

// isRawMarked: the directory is private to shmkit, so every file in it is a shmkit segment.
func isRawMarked(int) bool { return true }

// lockHolders: macOS does not say who holds a lock.
func lockHolders() map[fileID][]int { return nil }

// userLookup: macOS gives no cheap way to see other processes' mappings; segments live in a
// private directory that only shmkit uses, so the lock is the whole answer.
type userLookup struct{}

func newUserLookup(string) *userLookup { return nil }
func (*userLookup) check(*Info)        {}
