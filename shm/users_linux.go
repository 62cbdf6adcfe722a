//go:build linux

package shm

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A userScan is what /proc says about who uses the segment files: for each file, the pids
// that have it open or mapped, whether or not they hold shmkit's flock. Python's SharedMemory,
// numpy's memmap and C programs map segments without it; Reclaim must not remove what they use.
type userScan struct {
	users      map[fileID][]int
	unreadable map[uint32]bool // uids of processes whose fds or maps could not be read
}

// scanUsers reads /proc/*/fd and /proc/*/maps once, keeping only files on device dev (the
// segment directory's filesystem).
func scanUsers(dev uint64) *userScan {
	u := &userScan{users: map[fileID][]int{}, unreadable: map[uint32]bool{}}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return u
	}
	self := os.Getpid()
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		dir := "/proc/" + p.Name()
		var st unix.Stat_t
		if unix.Stat(dir, &st) != nil {
			continue // exited meanwhile
		}
		seen := map[fileID]bool{}
		okFD := u.fds(dir, dev, seen)
		okMaps := u.maps(dir, dev, seen)
		if !okFD || !okMaps {
			u.unreadable[st.Uid] = true
		}
		for id := range seen {
			u.users[id] = append(u.users[id], pid)
		}
	}
	return u
}

// fds adds the files on dev that the process has open; false if its fds cannot be read.
func (u *userScan) fds(dir string, dev uint64, seen map[fileID]bool) bool {
	ents, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return os.IsNotExist(err) // gone: nothing to see
	}
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Stat(dir+"/fd/"+e.Name(), &st) == nil && uint64(st.Dev) == dev {
			seen[fileID{dev, st.Ino}] = true
		}
	}
	return true
}

// maps adds the files on dev that the process has mapped; false if its maps cannot be read.
// A line reads "7f0c...-7f0c... rw-s 00000000 00:1a 5678   /dev/shm/name".
func (u *userScan) maps(dir string, dev uint64, seen map[fileID]bool) bool {
	f, err := os.Open(dir + "/maps")
	if err != nil {
		return os.IsNotExist(err)
	}
	defer f.Close()
	want := strconv.FormatUint(uint64(unix.Major(dev)), 16) + ":" + strconv.FormatUint(uint64(unix.Minor(dev)), 16)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 5 || !sameDev(string(fields[3]), want) {
			continue
		}
		if ino, err := strconv.ParseUint(string(fields[4]), 10, 64); err == nil && ino != 0 {
			seen[fileID{dev, ino}] = true
		}
	}
	return sc.Err() == nil
}

// sameDev compares /proc/PID/maps's "major:minor" (zero-padded hex) with want (unpadded).
func sameDev(field, want string) bool {
	maj, min, ok := strings.Cut(field, ":")
	if !ok {
		return false
	}
	a, err1 := strconv.ParseUint(maj, 16, 32)
	b, err2 := strconv.ParseUint(min, 16, 32)
	return err1 == nil && err2 == nil && strconv.FormatUint(a, 16)+":"+strconv.FormatUint(b, 16) == want
}

// inUse reports the pids using file id, and whether the answer may be incomplete: a process
// that could have opened the file (of the owner's uid, or any uid when the mode lets others
// in) could not be read. Root's processes are not counted unless this process is root; a
// root process mapping another user's segment is not seen by that user's gc.
func (u *userScan) inUse(id fileID, owner uint32, perm uint32) (pids []int, unsure bool) {
	if perm&0o066 != 0 {
		for uid := range u.unreadable {
			if uid != 0 {
				return u.users[id], true
			}
		}
	}
	return u.users[id], u.unreadable[owner]
}

// A userLookup scans /proc at most once per List, Stat or Reclaim, and only if a segment
// looks stale by its lock: the lock's verdict is cheap, the scan is not.
type userLookup struct {
	dev  uint64
	scan *userScan
}

func newUserLookup(dir string) *userLookup {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return nil
	}
	return &userLookup{dev: uint64(st.Dev)}
}

// check clears info.Stale when a process has the file open or mapped without shmkit's lock,
// and adds such processes to info.Attached. For a Raw segment, which other programs map
// without shmkit's lock as a matter of course, it also clears Stale when that cannot be ruled
// out: when a process that could use the file cannot be inspected. (In many containers pid 1
// cannot be, even by root: there Raw segments are never stale, and are removed by Remove, or
// shmkit rm, only.)
func (l *userLookup) check(info *Info) {
	if l == nil || !info.Stale {
		return
	}
	if l.scan == nil {
		l.scan = scanUsers(l.dev)
	}
	pids, unsure := l.scan.inUse(fileID{info.dev, info.ino}, info.uid, info.perm)
	if len(pids) > 0 || unsure && info.Raw {
		info.Stale = false
		info.Attached = append(info.Attached, pids...)
	}
}
