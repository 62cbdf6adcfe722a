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
// A child's Go runtime starts with GOMAXPROCS=1, unless GOMAXPROCS is set in the parent's
// environment: one P starts fewer threads while the packages initialise, which makes a start
// cheaper. Main restores the default (as if the variable had never been set) before the
// entry runs, so only package initialisers in a child see 1.
//
// Command wires any executable (Python, C) to segments through environment variables and
// inherited fds.
//
// # Pool
//
// A Pool is Python's multiprocessing.Pool: worker processes that run registered functions.
//
//	var square = procs.Func("square", func(ctx context.Context, x int64) (int64, error) { return x * x, nil })
//
//	pool, err := procs.NewPool(ctx, procs.PoolConfig{})  // CPUCount() workers
//	defer pool.Close()
//	out, err := procs.Map(ctx, pool, square, inputs)     // pool.map
//	for v, err := range procs.Imap(ctx, pool, square, inputs) { … }
//	v, err := procs.Apply(ctx, pool, square, 12)         // pool.apply
//	f := procs.MapAsync(ctx, pool, square, inputs)       // pool.map_async; f.Get(ctx)
//	err = procs.ForRange(ctx, pool, kernel, n, args)     // spans of [0, n) over shared arrays
//
// Python name → shmkit: Pool(n, initializer, initargs, maxtasksperchild) → NewPool with
// PoolConfig{Workers, Init: InitWith(entry, arg), MaxTasksPerWorker}; map, map_async, imap,
// imap_unordered, apply, apply_async → Map, MapAsync, Imap, ImapUnordered, Apply, ApplyAsync;
// starmap → Map over a struct input; chunksize → Chunk(n) (automatic by default); close + join
// → Close; join → Join; terminate → Terminate.
//
// Inputs and outputs of fixed size with no pointers are copied as raw bytes through each
// worker's pipes in shared memory, with no encoding; other Go values go through the codec
// (shared objects as handles, attached once per worker). A task's error or panic comes back
// with the worker's message (and stack). A worker killed mid-task (SIGKILL, the OOM killer)
// fails only that task, with a *WorkerDiedError, or runs it again elsewhere under Retries; the
// worker is replaced from a warm spare and the pool goes on: it never hangs, where CPython's
// Pool does (bpo-22393). Cancelling a call's context returns at once with its error, and the
// workers still running its tasks are replaced.
//
// # Warm spares
//
// A spare is a child exec'd ahead of time that waits, idle, for an entry to run; handing it
// one costs a message on a socket instead of an exec (Python's forkserver, without fork). A
// pool keeps one for its replacements (PoolConfig.Spares); WarmSpares(n) keeps n for
// Entry.Start. Each idle spare holds a Go runtime's memory, and runs the binary as it was when
// the spare started. Spares need unix sockets: on Windows every start is an exec.
//
// # Caveats
//
// Linux is where this package is tested; the Windows build's tests run under wine in CI, and
// macOS compiles but has not been run. Off Linux files pass as inherited fds (handles on
// Windows) and daemon entry children watch their lifeline with a goroutine; on Windows a
// daemon Command joins a job object that ends it with its parent (on macOS it is not tied to
// its parent), and an anonymous segment reaches a Pool worker as a handle the worker
// duplicates from the pool process (on macOS it must be named, or passed in Init).
package procs
