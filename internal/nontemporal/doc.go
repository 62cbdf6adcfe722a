// Package nontemporal writes a Pipe's records around the cache: x86's non-temporal stores
// (MOVNTI), which go to memory through the write-combining buffers without first taking the
// line from the core that read it a lap ago. A writer streaming to a reader on another core
// otherwise pays for every line twice (the reader's copy invalidated, the line fetched for
// writing); these stores pay for neither, and the reader finds the lines in memory, where its
// hardware prefetcher streams them in.
//
// Non-temporal stores are weakly ordered: another core may see a later store (a record's
// header) before an earlier one (its payload). Fence (SFENCE) orders every store before it
// ahead of every store after it; a process's death, a context switch and a membarrier(2)
// barrier run on its CPU make them all visible too. Package ring's Pipe builds on exactly
// those (see its pipeShared).
//
// Available is true on amd64; elsewhere Record is plain stores and Fence does nothing, and
// the ring never asks for them.
package nontemporal
