// Package bench is shmkit's benchmark suite: every scenario run as shmkit and as each
// baseline a Go user could pick instead (a Go channel, os pipes, unix sockets, TCP loopback,
// CPython's multiprocessing, Boost.Interprocess), in one run, beside the raw floors they are
// judged against. "shmkit bench" runs it; Run returns the results, WriteTable and WriteJSON
// print them.
//
// Scenario and implementation names are stable: they are the "name" and "impl" fields of the
// JSON output. Latency scenarios record every sample in an HDR histogram and report the median
// with p99, p99.9, max and mean; throughput scenarios report the median of several runs after
// a warm-up run (--quick skips it), a scenario's implementations taking turns run by run so that
// a change in the machine meanwhile falls on all of them alike. Every scenario checks the data it moved: a run that moves nothing, or the
// wrong bytes, is an error, not a figure. A peer that is not installed is reported as
// skipped, never faked.
//
// The cross-process scenarios start their peers as procs entries, so a program that runs the
// suite must call procs.Main first in main (cmd/shmkit does).
package bench
