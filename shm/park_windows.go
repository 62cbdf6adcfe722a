//go:build windows

package shm

import "github.com/shmkit/shmkit/internal/futex"

// Windows parks sleepers on named semaphores keyed by segment and offset (package futex); the
// registry is what can say which segment a word is in.
func init() { futex.SetLocator(parkKey) }

// parkForget closes this process's parking slots for a segment it no longer maps.
func parkForget(id uint64) { futex.Forget(id) }
