package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/shmkit/shmkit/procs"
)

// What travels, for a pool named N:
//
//	task    JetStream message on "shmkit.N.tasks" in stream "SHMKIT_N" (work-queue retention),
//	        body: the chunk's inputs, codec-encoded as a []In
//	        Nats-Msg-Id   the task's ID (the stream drops a republished duplicate)
//	        Shmkit-Fn     the procs.Func's registered name
//	        Shmkit-Reply  the subject the result goes to (the coordinator's own)
//	result  core NATS message on that subject, published (and flushed) before the task is acked,
//	        body: the outputs, codec-encoded as a []Out, or the failure's text
//	        Shmkit-Task      the task's ID
//	        Shmkit-Status    one of the status values below
//	        Shmkit-Index     for a task error or a panic: the failing input's index within the
//	                         task; for a dead local worker: its exit code (the body: its pid)
//	        Shmkit-Delivery  which delivery of the task this was (1 the first time)
//	        Shmkit-Worker    host:pid of the worker process, for error messages
const (
	hdrFn       = "Shmkit-Fn"
	hdrReply    = "Shmkit-Reply"
	hdrTask     = "Shmkit-Task"
	hdrStatus   = "Shmkit-Status"
	hdrIndex    = "Shmkit-Index"
	hdrDelivery = "Shmkit-Delivery"
	hdrWorker   = "Shmkit-Worker"

	consumerName = "workers"
)

// The values of Shmkit-Status.
const (
	statusOK      = "ok"
	statusTask    = "task"    // the function returned an error (procs.TaskError)
	statusPanic   = "panic"   // the function panicked (procs.ErrPanic)
	statusDied    = "died"    // a local pool worker died running it (procs.WorkerDiedError)
	statusUnknown = "unknown" // no such function in the worker (ErrUnknownFunc)
	statusTooBig  = "toobig"  // the outputs exceed the server's maximum payload (ErrTooBig)
	statusError   = "error"   // anything else: decoding, a broken local pool
)

// Presence: a worker publishes "<id> <local workers>" on hello every helloEvery, when a
// coordinator publishes on census, and "<id> 0" when it stops; a coordinator counts the workers
// heard from within helloExpiry.
const (
	helloEvery  = time.Second
	helloExpiry = 3*helloEvery + helloEvery/2
)

func helloSubject(pool string) string  { return "shmkit." + pool + ".hello" }
func censusSubject(pool string) string { return "shmkit." + pool + ".census" }

func streamName(pool string) string  { return "SHMKIT_" + pool }
func taskSubject(pool string) string { return "shmkit." + pool + ".tasks" }
func maxDeliverAdvisory(pool string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + streamName(pool) + "." + consumerName
}

// failure turns a task's failure in a worker into a result's status, index and text.
func failure(err error) (status string, index int, text string) {
	var te *procs.TaskError
	var wd *procs.WorkerDiedError
	switch {
	case errors.As(err, &te):
		return statusTask, te.Index, te.Message
	case errors.As(err, &wd):
		return statusDied, wd.ExitCode, strconv.Itoa(wd.Pid)
	case errors.Is(err, procs.ErrPanic):
		// procs says "procs: entry panicked: input 3: panic: …"; the index travels alone, to be
		// made the call's.
		text = strings.TrimPrefix(err.Error(), procs.ErrPanic.Error()+": ")
		if _, e := fmt.Sscanf(text, "input %d: ", &index); e == nil {
			text = text[strings.Index(text, ": ")+2:]
		}
		return statusPanic, index, text
	}
	return statusError, 0, err.Error()
}

// resultErr turns a failed result back into the error the caller gets; base is the index of
// the chunk's first input among the call's inputs.
func resultErr(m *nats.Msg, base int) error {
	h := m.Header
	text, worker := string(m.Data), h.Get(hdrWorker)
	index, _ := strconv.Atoi(h.Get(hdrIndex))
	switch h.Get(hdrStatus) {
	case statusTask:
		return &procs.TaskError{Index: base + index, Message: text}
	case statusDied:
		pid, _ := strconv.Atoi(text)
		return &procs.WorkerDiedError{Pid: pid, ExitCode: index}
	case statusPanic:
		return fmt.Errorf("%w: input %d (worker %s): %s", procs.ErrPanic, base+index, worker, text)
	case statusUnknown:
		return fmt.Errorf("%w: worker %s has no function %q", ErrUnknownFunc, worker, text)
	case statusTooBig:
		return fmt.Errorf("%w: worker %s: %s", ErrTooBig, worker, text)
	}
	return fmt.Errorf("cluster: worker %s: %s", worker, text)
}
