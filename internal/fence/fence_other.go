//go:build !linux || !amd64 || race

package fence

import "sync/atomic"

// Store64 stores v at addr, sequentially consistent: no other fence is needed.
func Store64(addr *uint64, v uint64) { atomic.StoreUint64(addr, v) }

// Store32 is Store64 of a 32-bit word.
func Store32(addr *uint32, v uint32) { atomic.StoreUint32(addr, v) }

// Prepare does nothing here.
func Prepare() {}

// Light is false here: every Store64 is a full fence.
func Light() bool { return false }

// Heavy does nothing here: no process is Light.
func Heavy() error { return nil }

const lightHere = false
