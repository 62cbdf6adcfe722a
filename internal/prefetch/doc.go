// Package prefetch asks the CPU for cache lines before they are needed.
//
// A Pipe's writer streams records into lines its reader read a lap ago. On x86 stores commit
// in order, so the first store into each such line waits for the line to come back from the
// reader's cache, and every later store waits behind it. Asking for the line for writing a few
// KiB ahead (PREFETCHW) overlaps those round trips instead of taking them one by one. It is a
// hint: it changes when a line moves, never what is read or written.
package prefetch
