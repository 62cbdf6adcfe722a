// Package testmain is the TestMain of every package whose tests use real processes: the test
// binary is its own child (procs.Main), each test names its segments with Name, and the run
// fails if a test left a segment, a child process or a goroutine behind.
package testmain
