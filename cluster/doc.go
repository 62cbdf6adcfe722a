// Package cluster spreads a procs Pool across machines: the same registered procs.Funcs, the
// same Map, Imap, ImapUnordered, Apply and ApplyAsync, with tasks that travel over a NATS
// JetStream work-queue stream to worker processes on any host that can reach the server.
//
//	coordinator (NewPool)               NATS (JetStream)              worker host (Serve)
//	  Map(ctx, pool, fn, inputs) ──► stream SHMKIT_<name> ──► pull ──► local shm procs.Pool
//	        ▲                      (work queue, acked tasks)            (one process per core)
//	        └──────────────── result subject ◄──── result, then ack ◄──────┘
//
// It is a module of its own (github.com/shmkit/shmkit/cluster), so the core module keeps its
// three dependencies; this one adds the NATS server and client.
//
// # The laptop and the cluster
//
// With no URL, NewPool starts an embedded nats-server with JetStream inside the process,
// reachable only from it, with its store in a temporary directory that Close removes, and a
// local shm pool that serves it: the same program runs on one machine with nothing else
// installed. With Listen, the embedded server also accepts workers over TCP (Pool.URL says
// where); with URL, the coordinator uses an existing NATS server or cluster.
//
//	pool, err := cluster.NewPool(ctx, cluster.Config{})                           // laptop
//	pool, err := cluster.NewPool(ctx, cluster.Config{Listen: ":4222"})             // workers join
//	pool, err := cluster.NewPool(ctx, cluster.Config{URL: "nats://nats-1:4222"}) // a cluster
//	out, err := cluster.Map(ctx, pool, square, inputs)
//
// A worker host runs the same binary (so it knows the same functions), with procs.Main first
// in main, and calls Serve:
//
//	err := cluster.Serve(ctx, "nats://nats-1:4222") // until ctx ends
//
// Each worker feeds its host's cores through a local procs.Pool: a task's inputs cross the
// network once, then go through shared memory like any other Pool task.
//
// # Delivery
//
// A worker acknowledges a task only after it has published the result and the server has it.
// A worker that dies (or stops, or loses the network) holding a task leaves it unacknowledged,
// and JetStream delivers it to another worker after Config.AckWait; a worker running a long
// task tells the server it is still at it, so AckWait bounds the wait for a dead host, not a
// task's run time. A task that comes back twice may produce two results; the coordinator keeps
// the first and drops the other (Stats.Dropped), so a Map returns each output exactly once.
// After Config.MaxDeliver deliveries the task fails with ErrMaxDeliver.
//
// Results travel on core NATS to the coordinator's own subject; a coordinator that loses its
// connection fails the calls it has out with ErrDisconnected rather than wait for results that
// may have been sent while it was away. Tasks are kept in memory on the server (the coordinator
// holds the inputs, and its calls fail if the server restarts). A call that ends (an error,
// ctx, a loop stopped early) deletes its tasks not yet taken from the stream.
//
// # Workers and chunks
//
// Each worker host says hello every second (and goodbye when it stops); Pool.Workers counts
// their local workers, and a call with no procs.Chunk makes four tasks per worker, as a
// procs.Pool does (64 tasks while no worker has said hello yet).
//
// # What travels
//
// Inputs and outputs go through shmkit's codec, portable across byte orders. Shared objects
// (segments, queues, arrays) do not cross hosts: an input that holds one is procs.ErrEncode. A
// task is one message, at most the server's max_payload (1 MiB by default): tasks are split to
// fit, and a single input or a task's outputs too large for it is ErrTooBig.
package cluster
