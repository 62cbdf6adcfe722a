package shm_test

import "golang.org/x/sys/unix"

func dup(fd uintptr) (uintptr, error) {
	n, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	return uintptr(n), err
}
