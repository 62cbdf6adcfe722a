//go:build linux

package shm

import (
	"io/fs"
	"strconv"

	"golang.org/x/sys/unix"
)

// unnamedFile makes a file in dir that has no name yet (O_TMPFILE): it vanishes with its last
// descriptor if the creator dies before publish links it. Where the filesystem has no
// O_TMPFILE (kernels before 3.11), it makes a temporary name instead.
func unnamedFile(dir string, perm fs.FileMode) (*file, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm))
	switch err {
	case nil:
		return &file{fdn: fd}, nil
	case unix.EOPNOTSUPP, unix.EISDIR, unix.EINVAL:
		return tempFile(dir, perm)
	}
	return nil, err
}

// linkUnnamed links an O_TMPFILE file to path. linkat through /proc/self/fd needs no
// privilege; AT_EMPTY_PATH, the fallback where /proc is missing, needs CAP_DAC_READ_SEARCH.
func linkUnnamed(fd int, path string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	if err == unix.ENOENT {
		err = unix.Linkat(fd, "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
	}
	return err
}
