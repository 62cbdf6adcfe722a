package ring

import "sync/atomic"

// Hooks for the external tests (package ring_test), which may start child processes; the
// in-package tests may not import procs (procs imports ring).

// SleepQuietly puts both ends in Sleep mode without the reader asking its writer for full
// fences, so light writers and sleeping readers meet.
func SleepQuietly(r *Reader, w *Writer) { r.mode, w.mode = Sleep, Sleep }

// WriterLight reports the pipe's writerLight word.
func WriterLight(p *Pipe) uint32 { return atomic.LoadUint32(&p.sh.writerLight) }

// IsLight reports whether w publishes without a full fence.
func IsLight(w *Writer) bool { return w.light }

// SetSlip turns r's slip behind a streaming writer on or off (see Reader.slipBehind).
func SetSlip(r *Reader, on bool) { r.noSlip = !on }

// SetPrefetch turns w's prefetching of the lines ahead of it on or off (see Writer.prefetch).
func SetPrefetch(w *Writer, on bool) { w.noPrefetch = !on }

// PrefetchAhead is how far ahead of its tail the writer asks for lines after a record of size
// bytes (see prefetchAhead), for the benchmarks' floor.
func PrefetchAhead(size uint64) uint64 { return prefetchAhead(size) }
