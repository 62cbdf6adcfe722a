package cluster

import "errors"

// Errors returned by this package; test for them with errors.Is. A task's own failure comes
// back as procs does it: a *procs.TaskError, procs.ErrPanic, a *procs.WorkerDiedError.
var (
	// ErrConnect: the NATS server could not be reached (or has no JetStream) within the
	// connect timeout.
	ErrConnect = errors.New("cluster: cannot reach the NATS server")
	// ErrUnknownFunc: the worker that took a task has no procs.Func of that name registered
	// (it is another program, or an older build of this one).
	ErrUnknownFunc = errors.New("cluster: function not registered in the worker")
	// ErrMaxDeliver: a task was delivered MaxDeliver times and never acknowledged (the
	// workers that took it died, or it ran past AckWait each time); it is not tried again.
	ErrMaxDeliver = errors.New("cluster: task delivered MaxDeliver times without a result")
	// ErrDisconnected: the coordinator lost its connection to NATS while tasks were out, so
	// their results may have been lost; the calls waiting on them fail with it.
	ErrDisconnected = errors.New("cluster: connection to NATS lost while tasks were out")
	// ErrTooBig: one input (or one output) is larger than the server's maximum payload.
	ErrTooBig = errors.New("cluster: message larger than the server's maximum payload")
)
