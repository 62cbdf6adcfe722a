//go:build linux && amd64 && !race

package fence

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// membarrier(2) commands.
const (
	cmdQuery                   = 0
	cmdGlobalExpedited         = 1 << 1
	cmdRegisterGlobalExpedited = 1 << 4
)

var (
	prepare    sync.Once
	registered atomic.Bool
)

// Store64 stores v at addr after every earlier store of this goroutine (x86 keeps stores in
// order, and the call keeps the compiler from moving them); a later load may still pass it.
//
//go:noescape
func Store64(addr *uint64, v uint64)

// Store32 is Store64 of a 32-bit word.
//
//go:noescape
func Store32(addr *uint32, v uint32)

// Prepare registers this process for Heavy's barriers, once, in the background.
func Prepare() {
	prepare.Do(func() {
		go func() {
			have, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, cmdQuery, 0, 0)
			if errno != 0 || have&(cmdGlobalExpedited|cmdRegisterGlobalExpedited) != cmdGlobalExpedited|cmdRegisterGlobalExpedited {
				return
			}
			if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, cmdRegisterGlobalExpedited, 0, 0); errno == 0 {
				registered.Store(true)
			}
		}()
	})
}

// Light reports whether this process is registered: a store with Store64 followed by a load
// is then safe as long as the other side calls Heavy between its store and its load.
func Light() bool { return registered.Load() }

// Heavy runs a full memory barrier on every CPU that runs a registered process.
func Heavy() error {
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, cmdGlobalExpedited, 0, 0); errno != 0 {
		return errno
	}
	return nil
}

const lightHere = true
