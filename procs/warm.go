package procs

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
)

var (
	globalSpares   atomic.Pointer[spareSet]
	globalSparesMu sync.Mutex // serialises WarmSpares
)

// WarmSpares keeps n spare children exec'd ahead of time, so that Entry.Start hands the entry
// to one that is already running instead of executing the binary: a start costs a hand-off
// over a socket, not an exec (Python's forkserver, without fork). Each start that takes a
// spare starts another in the background. WarmSpares(0) stops the idle spares. Off by
// default; a Pool keeps its own spares for its replacements (PoolConfig.Spares).
//
// A start uses a spare when the child is a daemon (the default) and keeps the default
// Stdout, Stderr and environment; others exec as before. The trade-off: an idle spare is a
// process holding a Go runtime's memory (a few MiB), and it runs the binary as it was when
// the spare started. Spares need descriptor passing over a unix socket: elsewhere WarmSpares
// returns ErrNotSupported.
func WarmSpares(n int) error {
	if !mainCalled.Load() {
		return ErrNoMain
	}
	globalSparesMu.Lock()
	defer globalSparesMu.Unlock()
	if old := globalSpares.Swap(nil); old != nil {
		old.close()
	}
	if n <= 0 {
		return nil
	}
	s := newSpareSet(context.Background(), n)
	if s == nil {
		return ErrNotSupported
	}
	globalSpares.Store(s)
	s.fill()
	return nil
}

// spareOK reports whether a start with these options can use a warm spare.
func (o *options) spareOK() bool {
	return !o.noSpare && o.daemon && o.stdout == os.Stdout && o.stderr == os.Stderr && len(o.env) == 0 && globalSpares.Load() != nil
}
