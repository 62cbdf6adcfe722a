//go:build !linux && !windows

package procs

// peerFDs: no portable way to open another process's descriptor here.
const peerFDs = false

func openPeerFD(pid, fd int) (uintptr, error) { return 0, ErrNotSupported }
