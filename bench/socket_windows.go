//go:build windows

package bench

import (
	"errors"
	"syscall"
)

const wsaEAFNoSupport = syscall.Errno(10047) // WSAEAFNOSUPPORT

// unixSocketErr turns a listen on a unix socket that the system's sockets cannot make into
// ErrSkip: Windows has had AF_UNIX since 10 1803, wine's winsock has not.
func unixSocketErr(err error) error {
	if errors.Is(err, wsaEAFNoSupport) {
		return skip("these sockets have no AF_UNIX (wine; Windows has it since 10 1803)")
	}
	return err
}
