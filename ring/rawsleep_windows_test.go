//go:build windows

package ring_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/procs"
	"golang.org/x/sys/windows"
)

// rawSleepName names the bare sleeping round trip a sleeping pipe stands beside.
const rawSleepName = "raw-event"

type eventArgs struct {
	Ping, Pong string
	N          int
}

// event makes, or opens, the named auto-reset event name.
func event(name string) (windows.Handle, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, err
	}
	h, err := windows.CreateEvent(nil, 0, 0, n)
	if h != 0 && err == windows.ERROR_ALREADY_EXISTS {
		err = nil // the other side made it first
	}
	return h, err
}

// eventEcho answers N pings on two named auto-reset events: Windows' own sleep and wake, the
// floor under any sleeping round trip there.
var eventEcho = procs.Entry("ring.eventEcho", func(ctx context.Context, a eventArgs) error {
	ping, err := event(a.Ping)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ping)
	pong, err := event(a.Pong)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(pong)
	for range a.N {
		if _, err := windows.WaitForSingleObject(ping, windows.INFINITE); err != nil {
			return err
		}
		if err := windows.SetEvent(pong); err != nil {
			return err
		}
	}
	return nil
})

var events atomic.Int64

// rawSleep is the bare sleeping round trip on Windows: SetEvent and WaitForSingleObject on a
// pair of named events shared with a child.
func rawSleep(b *testing.B, rounds int) (round, done func()) {
	id := events.Add(1)
	a := eventArgs{fmt.Sprintf(`Local\shmkit-bench-%d-%d-ping`, os.Getpid(), id),
		fmt.Sprintf(`Local\shmkit-bench-%d-%d-pong`, os.Getpid(), id), rounds}
	ping, err := event(a.Ping)
	if err != nil {
		b.Fatal(err)
	}
	pong, err := event(a.Pong)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = windows.CloseHandle(ping); _ = windows.CloseHandle(pong) })
	child, err := eventEcho.Start(b.Context(), a)
	if err != nil {
		b.Fatal(err)
	}
	round = func() {
		if err := windows.SetEvent(ping); err != nil {
			b.Fatal(err)
		}
		if r, err := windows.WaitForSingleObject(pong, 10_000); err != nil || r != windows.WAIT_OBJECT_0 {
			b.Fatalf("no pong in 10s (%#x, %v); the child: %v", r, err, child.WaitContext(b.Context()))
		}
	}
	return round, func() {
		if err := child.WaitContext(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
