// Package sem is shmkit's cross-process synchronisation: locks, semaphores, conditions, events
// and barriers that live in shared memory and survive a dead owner.
//
// # Types
//
// Python's multiprocessing names map as follows: Lock → Mutex, RLock → RMutex, Condition →
// Cond, Semaphore → Semaphore, BoundedSemaphore → BoundedSemaphore, Event → Event, Barrier →
// Barrier. Each is a plain struct of fixed layout (drawn in its doc) whose zero bytes are ready
// to use (BoundedSemaphore and Barrier also take an Init), so it can sit at any 8-byte-aligned
// offset of a segment:
//
//	seg, _ := shm.Create("jobs", 4096)
//	mu, _ := sem.At[sem.Mutex](seg.Bytes(), 0)
//	ready, _ := sem.At[sem.Event](seg.Bytes(), 64)
//
// or made whole, alone in a small segment of its own, by one call, as Python's Lock() is:
//
//	mu, _ := sem.NewMutex()                // anonymous: travels to children, dies with its last user
//	ready, _ := sem.CreateEvent("ready")   // named: ErrExist if the name is taken
//	ready2, _ := sem.OpenEvent("ready")    // attach: ErrNotExist if it is not there
//	jobs, _ := sem.OpenOrCreateSemaphore("jobs", 4)
//	defer mu.Close()                       // this process detaches; the others go on
//
// The constructors return SharedMutex, SharedSemaphore, … (one per type), which have the
// type's methods plus Close, Unlink and Segment; after Close every method is ErrClosed. Each
// type, placed or made whole, travels to a child inside a procs entry's argument as it is,
// arriving as a pointer into the child's own mapping of the same segment.
//
// # Blocking
//
// An uncontended operation is a few atomic instructions: no system call, no allocation. A
// contended one spins briefly, then sleeps on a 32-bit word in shared memory (a futex on Linux)
// and is woken by the process that changes it; a wake system call is made only when a
// "sleeping" flag says someone may sleep (a flag, so a sleeper killed asleep costs one wasted
// wake, not one per release for ever). Every blocking call has a form that takes a context.Context, whose deadline and
// cancellation end the wait (Mutex.LockContext, Semaphore.AcquireContext, Cond.WaitContext,
// Event.Wait, Barrier.Wait), and locks and semaphores have Try forms.
//
// # Dead processes
//
// A Mutex records its owner's pid and a hash of the owner's start time in its lock word. A
// locker that finds the owner dead takes the lock and gets ErrOwnerDead once; it must repair
// the protected data and call Consistent, or the Mutex becomes not recoverable
// (ErrNotRecoverable), as with pthread robust mutexes. A Barrier knows its member processes
// before they arrive: a process joins when it opens the barrier by name, receives it in a procs
// entry's argument (entered by the launcher before the child runs), or first waits on it, and
// leaves when it closes the segment (a procs child does when its entry returns). If a member
// dies before it is counted in the current generation, the barrier breaks for all
// (ErrBrokenBarrier), as it does when a waiter's context ends; a member that left breaks
// nothing, so a party may finish, exit, and be replaced. A Barrier tracks 64 processes: one
// more is ErrTooMany. Nothing hangs on a dead peer,
// and sleepers check every 50 ms. Semaphores and Events have no owner: a permit held by a dead
// process is lost, as in Python.
//
// # Caveats
//
// The owner of a Mutex is a process: goroutines of one process share its ownership, as they
// share a sync.Mutex. RMutex re-enters per Owner token (see NewOwner), since Go has no thread
// identity. A placed object must stay in an open segment while used (a nil or unmapped one
// faults, as a nil sync.Mutex does); a Shared… object's methods return ErrClosed after Close,
// which must not race with them.
//
// Linux is where this package is tested: sleeping uses futex(2) without the private flag, with
// absolute CLOCK_MONOTONIC deadlines. On Windows, where the tests run under wine in CI, a
// sleeper parks on a named semaphore keyed by its word's segment and offset, and uses no CPU
// while it sleeps. On macOS, which compiles but has not been run, sleepers poll their word
// every millisecond instead (os_sync_wait_on_address needs libSystem calls this cgo-free module
// cannot make). Dead owners are noticed everywhere, through each system's process start times.
package sem
