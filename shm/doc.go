// Package shm creates, opens and reclaims shared-memory segments: the memory every other shmkit
// package lives in.
//
// # Segments
//
// A Segment is a mapped region that several processes share. Create makes a named one,
// Open attaches it by name, Anonymous makes one with no name that travels to children as an
// inherited file descriptor (see package procs). Bytes is the payload: plain memory, no copy,
// no syscall per access.
//
//	seg, err := shm.Create("orders", 1<<20, shm.Kind("app.orders"), shm.Layout("orders/v1"))
//	...
//	defer seg.Unlink() // the name outlives every process unless removed (before or after Close)
//	defer seg.Close()
//
// Create builds the whole segment (header, Init, ready) before it gives it its name, with one
// atomic link that never replaces a file: a creator killed at any moment leaves nothing, or a
// whole segment, and Open finds either no name or a ready segment.
//
// # Names, patterns and scopes
//
// A name holding one '*' is a pattern: Create (and every object's Create…) fills it in with
// 10 random characters and tries again while the name is taken, so "job-*" gives a fresh name
// that unrelated processes then open by seg.Name(). OpenOrCreate attaches a segment or makes
// it, saying which. A Scope is Python's SharedMemoryManager: give In(scope) to constructors,
// and scope.Close unlinks every named segment made through it and closes everything in it.
//
//	scope := shm.NewScope()
//	defer scope.Close()
//	seg, err := shm.Create("job-*", 4096, shm.In(scope))
//
// # Header and validation
//
// Unless made with Raw, a segment starts with a 128-byte header: magic, layout version,
// payload size, a layout fingerprint (xxhash64 of a descriptor such as
// "ring.Queue/v1 slots=1024 slot=64"), the creator's pid and start time, a kind, a checksum,
// and a state word that turns ready once the creator's Init has run. Open waits (up to Timeout)
// for ready, then checks every field against the file and against the Kind and Layout the
// caller expects. Each failure is its own error (ErrBadMagic, ErrVersion, ErrCorrupt,
// ErrTruncated, ErrSize, ErrKind, ErrFingerprint, ErrNotReady), wrapped in an *fs.PathError
// that names the segment. A garbled header is an error, never a panic.
//
// Raw segments have no header: the file is exactly the payload, so Python's
// multiprocessing.shared_memory.SharedMemory(name) and C's shm_open find and map it.
//
// # Liveness and reclaiming
//
// Every process that has a segment open holds a shared flock on it, and the kernel drops the
// lock when the process exits, even by SIGKILL. A segment on which an exclusive non-blocking
// flock succeeds has no live shmkit user. Other programs (Python's SharedMemory, numpy, C) map
// segments without that lock, so on Linux such a segment is checked again against /proc: a
// process that has it open or mapped keeps it. Only then does List report it Stale and Reclaim
// (the CLI's "shmkit gc") remove it. A Raw segment is also kept when some process that could
// use it cannot be inspected (in many containers pid 1 cannot, even by root); Remove takes it.
// A segment in use is never reclaimed; Remove and Reclaim never touch a file that is not
// shmkit's (no header and no Raw mark: a plain file, a FIFO, a symlink, another program's
// segment), and say what it is. Pids are never trusted on their own.
//
// Objects living in a segment use OnClose to leave their member lists when this process
// closes it (or the garbage collector releases it), which is how other processes tell a peer
// that left from one that died.
//
// # Space
//
// Create reserves every page up front (fallocate), after checking the free space of the
// filesystem, so a full /dev/shm fails at Create with ErrNoSpace, saying how much is free and
// how to raise it, instead of killing the process with SIGBUS on first touch. Containers often
// cap /dev/shm at 64 MiB (docker run --shm-size raises it). The pages are also charged to the
// creator's memory cgroup, and an anonymous segment has no filesystem limit at all, so Create
// and Anonymous also check every memory cgroup the process is in (limit minus usage) and the
// machine's available memory: a request beyond them is ErrNoSpace naming the limit, not a
// process killed by the OOM killer.
//
// # Sharing with other processes
//
// A Segment implements Shareable. Types that live inside segments (pipes, queues, locks,
// arrays) implement it too and Register an AttachFunc, so package procs can pass them inside
// an entry's argument: the segment travels by name (or inherited fd), the object by Handle.
//
// # Caveats
//
// Named segments outlive the processes that made them: Unlink (or Remove, or shmkit gc) them.
// Close what you open: a Segment that becomes unreachable without Close has its file closed
// by the garbage collector, but never its memory unmapped (the collector cannot see pointers
// into shared memory, so it cannot know none is left): the mapping stays until the process
// exits. Memory handed out (Bytes, and the objects other packages place in it) never dangles;
// after an explicit Close it does, as after any munmap. A process that shrinks the file
// of a named segment under others makes their next access fault; anonymous segments are sealed
// against that.
//
// Linux is where this package is tested. On macOS named segments are files in a private
// directory under $TMPDIR (shm_open objects can be neither listed nor locked); it compiles
// but has not been run. On Windows a segment is a paging-file section: there is no unlink (the
// section dies with its last handle, so Unlink is a no-op), sections cannot be listed, and
// List, Stat, Remove and Reclaim return ErrNotSupported; a section is named from the start of
// its Init, so Open waits for it to be ready (ErrNotReady after Timeout) where Linux says
// ErrNotExist. The Windows build's tests run under wine in CI.
// Other systems get ErrNotSupported.
package shm
