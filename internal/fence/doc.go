// Package fence is the asymmetric store-load fence under a Pipe's publication.
//
// A writer that publishes with a store and then loads a flag (is the reader asleep?) needs a
// full fence between the two, or the load can pass the store and a reader going to sleep at
// that moment is never woken; on amd64 Go's atomic store is that fence, an XCHG, and it is
// half the cost of a message. Here the writer stores with a plain release store (Store64)
// and the fence moves to the rare side: a reader about to sleep calls Heavy, Linux's
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which runs a full barrier on every CPU running
// a registered process, so after it returns any writer store that preceded the writer's load
// is visible. A process registers once (Prepare; it takes one RCU grace period, ≈ 10 ms, so it
// runs in the background) and is Light from then on.
//
// Only linux/amd64 without the race detector is Light; everywhere else Store64 is a
// sequentially consistent atomic store and Heavy does nothing.
package fence
