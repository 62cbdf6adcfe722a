// Package procs starts Go functions in child processes and passes shared objects to them:
// Python's multiprocessing.Process, for Go.
//
// # Entries
//
// Go cannot fork, so a child is a re-execution of the running binary. Register the function
// the child runs with Entry, in a package-level var, and make Main the first statement of main
// (and of TestMain): in a child, Main runs the entry and exits; in the parent it returns.
//
//	var worker = procs.Entry("worker", func(ctx context.Context, a WorkerArgs) error { … })
//
//	func main() {
//		procs.Main()
//		p, err := worker.Start(ctx, WorkerArgs{Data: seg, N: 10})
//		…
//		err = p.Wait()
//	}
//
// # Arguments
//
// The argument is copied to the child. Plain fields (numbers, strings, slices, maps, arrays,
// structs of them, and types with MarshalBinary) are encoded. Fields whose type implements
// shm.Shareable (segments, and the queues, locks and arrays that live in them) travel as
// handles: a named segment by name, an anonymous one as an inherited fd. They arrive attached
// to the same memory. Anything else (a func, a chan, an interface value, an unexported field)
// is ErrEncode at Start, before any process is made.
//
// # Processes
//
// A Process has Pid, Name, Wait, Join, Alive, Terminate, Kill, ExitCode (0, the code the
// entry chose with Exit, 1 for an error or panic, or minus the signal number as Python
// reports it) and Done. The error an entry returns reaches the parent as an *ExitError
// carrying its text. Children are daemons by default: they die with their parent even when
// the parent is SIGKILLed. An entry child holds the read end of a pipe whose only writer is
// its parent; on Linux the kernel turns that pipe's closing into SIGKILL for the child
// (O_ASYNC with F_SETSIG), elsewhere a goroutine waits for end-of-file. A Command child gets
// Linux's parent-death signal instead. Daemon(false) lets a child outlive its parent.
//
// Command wires any executable (Python, C) to segments through environment variables and
// inherited fds.
//
// # Caveats
//
// Linux is where this package is tested. macOS and Windows builds compile but have not been
// run: there, files pass as inherited fds (handles on Windows), daemon entry children watch
// their lifeline with a goroutine, and a daemon Command is not tied to its parent.
package procs
