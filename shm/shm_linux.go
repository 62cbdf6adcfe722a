//go:build linux

package shm

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is where named segments live on Linux: the tmpfs that shm_open uses, so Python's
// SharedMemory and C's shm_open find segments made with Raw.
const Dir = "/dev/shm"

const (
	mapPopulate = unix.MAP_POPULATE
	rawXattr    = "user.shmkit"
)

func segmentDir() (string, error) { return Dir, nil }

// allocateHook, set only by tests, runs between the free-space check and fallocate.
var allocateHook func()

// allocate gives fd its size and reserves the pages now, so a full tmpfs fails here with a
// clear error instead of a SIGBUS at first touch.
func allocate(fd int, name string, total int64) error {
	page := int64(os.Getpagesize())
	need := (total + page - 1) / page * page
	var sf unix.Statfs_t
	checked := false // the filesystem said it had room: a later ENOSPC means a race
	if unix.Fstatfs(fd, &sf) == nil && sf.Blocks > 0 && sf.Type == unix.TMPFS_MAGIC {
		free := int64(sf.Bavail) * int64(sf.Bsize)
		if need > free {
			return noSpace(name, need, free, int64(sf.Blocks)*int64(sf.Bsize))
		}
		checked = true
	}
	if allocateHook != nil {
		allocateHook() // tests hold two creates here, both past the check
	}
	if free, where, ok := headroomFor(need); ok && need > free {
		return fmt.Errorf("%w: segment %q needs %s but %s leaves %s; reserving it would get a process "+
			"killed by the OOM killer. Ask for less, or raise the limit", ErrNoSpace, name, human(need), where, human(free))
	}
	for {
		err := unix.Fallocate(fd, 0, 0, total)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EOPNOTSUPP, unix.ENOSYS:
			return unix.Ftruncate(fd, total)
		case unix.ENOSPC, unix.ENOMEM:
			var sf unix.Statfs_t
			_ = unix.Fstatfs(fd, &sf)
			err := noSpace(name, total, int64(sf.Bavail)*int64(sf.Bsize), int64(sf.Blocks)*int64(sf.Bsize))
			if checked {
				// The check above saw room: another create took it between the two.
				err = fmt.Errorf("%w (there was room a moment before: another process's create took it meanwhile)", err)
			}
			return err
		default:
			return err
		}
	}
}

func noSpace(name string, need, free, total int64) error {
	return fmt.Errorf("%w: segment %q needs %s but %s has %s free of %s; "+
		"raise the limit (mount -o remount,size=2G %s, or docker run --shm-size=2g) or remove stale segments (shmkit gc)",
		ErrNoSpace, name, human(need), Dir, human(free), human(total), Dir)
}

func anonymousFile(total int64) (f *file, err error) {
	fd, err := unix.MemfdCreate("shmkit", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	defer func() {
		if err != nil {
			_ = unix.Close(fd)
			err = fmt.Errorf("shm: anonymous segment: %w", err)
		}
	}()
	if err = allocate(fd, "(anonymous)", total); err != nil {
		return nil, err
	}
	// Sealed against resizing, so no holder can shrink it under another's mapping (SIGBUS).
	if _, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		return nil, err
	}
	if err = flock(fd, unix.LOCK_SH); err != nil {
		return nil, err
	}
	f = &file{fdn: fd}
	_, err = f.size()
	return f, err
}

// markRaw tags a Raw segment so List knows it is shmkit's (tmpfs keeps user xattrs since
// Linux 6.6; on older kernels Raw segments are simply not listed).
func markRaw(fd int) { _ = unix.Fsetxattr(fd, rawXattr, []byte("raw"), 0) }

func isRawMarked(fd int) bool {
	var b [8]byte
	n, err := unix.Fgetxattr(fd, rawXattr, b[:])
	return err == nil && string(b[:n]) == "raw"
}

// lockHolders reads /proc/locks: for every file with flocks, the pids holding them.
// A line reads "1: FLOCK  ADVISORY  READ 1234 00:1a:5678 0 EOF"; waiters carry "->".
func lockHolders() map[fileID][]int {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := make(map[fileID][]int)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		pid, err1 := strconv.Atoi(fields[4])
		id := strings.Split(fields[5], ":")
		if err1 != nil || len(id) != 3 {
			continue
		}
		maj, err2 := strconv.ParseUint(id[0], 16, 32)
		min, err3 := strconv.ParseUint(id[1], 16, 32)
		ino, err4 := strconv.ParseUint(id[2], 10, 64)
		if err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		k := fileID{unix.Mkdev(uint32(maj), uint32(min)), ino}
		out[k] = append(out[k], pid)
	}
	return out
}
