// Package ring is shmkit's message passing in shared memory: a zero-copy one-way Pipe of
// variable-length records, and a bounded many-to-many Queue of messages.
//
// # Pipe
//
// A Pipe has one writing process and one reading process (Python's Pipe(duplex=False); two
// Pipes make a Duplex). Every ring is made by the module's constructor convention:
//
//	p, _ := ring.NewPipe()                                  // anonymous, 1 MiB: pass it to a child
//	p, _ := ring.CreatePipe("feed", ring.Capacity(8<<20))   // named: ErrExist if taken
//	p, _ := ring.OpenPipe("feed")                           // attach: ErrNotExist if absent
//	defer p.Close()                                         // this process detaches
//
// The writer fills records in place and publishes them:
//
//	w, _ := p.Writer()
//	buf, _ := w.Reserve(n) // n bytes of the ring itself
//	fill(buf)
//	w.Commit()             // publishes every record reserved since the last Commit
//
// and the reader reads them in place:
//
//	r, _ := p.Reader()
//	rec, _ := r.Next()     // valid until Release (or the next Next)
//	use(rec)
//	r.Release()
//
// Send and Recv copy; Writer is an io.Writer and Reader an io.Reader, so a Pipe works under
// bufio, io.Copy and encoding/gob. A stream that nobody waits on message by message goes
// fastest through a buffered writer (Writer.SetBuffer, then Flush as with a bufio.Writer):
// its records are published a buffer's worth at a time and, on amd64, written around the
// cache. Records are 8-byte aligned with an 8-byte header; a
// padding record fills the end of the region when the next record would not fit, so every
// record is contiguous, and payloads of 4 KiB or more start on a 64-byte line. A record is
// published by its own header, stored last (as in Aeron), so a hand-off moves only the
// record's cache lines; the writer's and reader's indices each have their own 128-byte line,
// are published in batches and read only when a side must. Closing the writer (its process
// sends no more, as Python's close()) makes the reader drain, then get io.EOF; Shutdown ends
// both sides for everyone.
//
// # Queue
//
// A Queue is Dmitry Vyukov's bounded MPMC queue with a sequence number per slot, in shared
// memory: any number of processes Put and Get fixed-capacity messages, copied in and out, with
// compare-and-swap and no lock (Python's Queue and SimpleQueue; JoinableQueue adds TaskDone
// and Join):
//
//	q, _ := ring.NewQueue()                                         // 1024 messages of up to 1 KiB
//	q, _ := ring.CreateQueue("jobs", ring.Capacity(1), ring.SlotSize(64))
//
// Any capacity from 1 is exact. A message longer than the slot size is ErrTooLarge: nothing
// is truncated. Close detaches this process; Shutdown ends the queue for every process: Put is
// ErrClosed from then on, and Get and TryGet return what is left, then io.EOF.
//
// # Any Go value
//
// QueueOf[T] and PipeOf[T] carry values of any T, as Python's put(obj) and send(obj) carry
// any picklable object:
//
//	q, _ := ring.NewQueueOf[Order](ring.SlotSize(4096))
//	q.Put(Order{ID: 7, Lines: lines})
//	o, _ := q.Get()
//
// A fixed-size, pointer-free T travels as its bytes (no reflection, no allocation per
// message). Any other T (strings, slices, maps, pointers, interface values of types
// registered with shm.RegisterType) is encoded straight into the slot or record reserved for
// it, sized first so nothing is truncated (ErrTooLarge) and nothing goes through a buffer.
// The ring records T, so opening it as another type is ErrInvalid.
//
// # Waiting and dead peers
//
// A call that must wait spins briefly, then sleeps on a futex, and every such call has a
// form that takes a context. A Pipe end spins for a budget that adapts to its peer (2 to
// 100 µs: long while sleeps would be short, since a wake-up costs the waker more than the
// spin); see Writer.SetWaitMode and Reader.SetWaitMode for spin-only and sleep-only ends.
//
// Ready and Poll ask a reading end or a queue whether something is there without taking it
// (Python's conn.poll). Wait watches several at once, with channels such as a process's Done
// (Python's multiprocessing.connection.wait), in one system call on Linux.
//
// No death hangs anyone, and no departure is taken for a death. Each ring keeps a table of the
// processes attached to it (created, opened, or received in a procs entry's argument, where
// the launcher enters the child before it runs); a process leaves it when it detaches (or its
// procs entry returns), and one that dies stays in it, dead. A sleeper checks every 50 ms. A
// Pipe reader whose writer died gets what was committed, then ErrPeerGone, and so does one
// whose writing end nobody claimed when nobody is left to claim it (every other attached
// process is gone, one at least by dying); a writer likewise. A Queue Get on an empty queue
// returns ErrPeerGone in the same case; while another process is attached (it could put), or
// after every other one left normally, it waits for its context, as CPython's get(timeout=…)
// does. A Queue producer killed between
// claiming a slot and publishing it leaves a slot the consumers mark skipped once they see
// the producer gone (Agrona's unblock, for slots), and a consumer killed holding a slot
// leaves one the producers free: everything committed before a death is still delivered, in
// order, and the half-written message never is.
//
// # Caveats
//
// On linux/amd64 the first Writer in a process registers the process with membarrier(2), in
// the background (one RCU grace period, ≈ 10 ms, during which its writers use full fences);
// from then on its headers are published with plain stores, and a reader about to sleep runs
// a barrier on the CPUs of registered processes (an inter-processor interrupt to each one that
// is running). A Sleep-mode reader asks its writer for full fences instead.
//
// A Pipe records 256 attachments, a Queue 1024: one more is ErrTooMany at attach (a dead
// process's entry is reused first). A process that exits with a ring still attached (os.Exit,
// not a returning procs entry) counts as dead.
//
// A Pipe end belongs to one process at a time (a second live claimant gets ErrBusy) and is
// used by one goroutine at a time. A Queue producer that is only stopped (not dead) for
// two seconds between claiming a slot and writing its process ID may find its message given
// up; Put then says so. The layouts are little-endian. Linux is where this package is tested;
// the Windows build's tests run under wine in CI; on macOS waits poll (see package sem).
package ring
