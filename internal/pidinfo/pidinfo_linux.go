//go:build linux

package pidinfo

import (
	"bytes"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// stat reads /proc/<pid>/stat: field 3 is the state, field 22 the start time in clock ticks
// since boot. Fields are counted after the last ')' since the command name may hold spaces.
//
// It reads with bare system calls into a buffer on the stack, not os.ReadFile: liveness checks
// run in wait loops, and every process reads its own start time while its packages initialise,
// where os's first open would also set up the network poller (three more system calls, each
// costly in a virtual machine) for a file that cannot be polled.
func stat(pid int) (start uint64, running bool, err error) {
	var buf [1024]byte // the line is at most ~700 bytes: 52 numbers and a 64-byte name
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return 0, false, fmt.Errorf("pidinfo: %s: %w", path, err)
	}
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			_ = unix.Close(fd)
			return 0, false, fmt.Errorf("pidinfo: %s: %w", path, err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	_ = unix.Close(fd)
	return parseStat(buf[:n], path)
}

// parseStat takes the state (field 3) and the start time (field 22) from a stat line.
func parseStat(b []byte, path string) (start uint64, running bool, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("pidinfo: malformed %s", path)
	}
	rest := b[i+1:]
	var state byte
	for field := 3; ; field++ {
		rest = bytes.TrimLeft(rest, " ")
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return 0, false, fmt.Errorf("pidinfo: short %s", path)
		}
		switch field {
		case 3:
			state = rest[0]
		case 22:
			start, err = strconv.ParseUint(string(rest[:end]), 10, 64)
			return start, state != 'Z' && state != 'X' && state != 'x', err
		}
		rest = rest[end:]
	}
}
