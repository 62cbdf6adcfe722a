package procs

import (
	"errors"
	"fmt"
)

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrNoMain: Start was called in a program whose main (or TestMain) never called Main, so a
	// child would run the program's main instead of the entry.
	ErrNoMain = errors.New("procs: procs.Main was not called first in main (or TestMain)")
	// ErrLateEntry: the entry was registered after Main ran, so a child cannot find it.
	// Register entries in package-level var declarations.
	ErrLateEntry = errors.New("procs: entry registered after procs.Main ran")
	// ErrUnknownEntry: the child does not know the entry's name.
	ErrUnknownEntry = errors.New("procs: unknown entry")
	// ErrEncode: the argument holds something that cannot cross a process boundary (a func,
	// a chan, an interface value, an unexported field, a closed segment, …).
	ErrEncode = errors.New("procs: argument cannot be encoded")
	// ErrArgs: the child could not decode the argument or attach a shared object in it.
	ErrArgs = errors.New("procs: child could not receive its argument")
	// ErrPanic: the entry panicked; the message carries the panic value and stack.
	ErrPanic = errors.New("procs: entry panicked")
	// ErrSignaled: the child was ended by a signal (ExitCode is minus its number).
	ErrSignaled = errors.New("procs: child killed by a signal")
	// ErrNotSupported: the operation has no implementation on this operating system.
	ErrNotSupported = errors.New("procs: not supported on this platform")
	// ErrStarted: Start (or Share) on a Cmd that was already started.
	ErrStarted = errors.New("procs: command already started")
)

// An ExitError reports a child that did not end with code 0. Message is the error text the
// entry returned (or the panic and its stack), as the child sent it.
type ExitError struct {
	Name    string
	Pid     int
	Code    int // the exit code; minus the signal number if a signal ended it
	Message string
	cause   error
}

func (e *ExitError) Error() string {
	what := fmt.Sprintf("exited with code %d", e.Code)
	if e.Code < 0 {
		what = fmt.Sprintf("killed by signal %d", -e.Code)
	}
	s := fmt.Sprintf("procs: %s (pid %d) %s", e.Name, e.Pid, what)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the sentinel for the failure's class (ErrPanic, ErrArgs, ErrUnknownEntry,
// ErrSignaled), or nil for an entry that returned an error.
func (e *ExitError) Unwrap() error { return e.cause }

// exitCoder is an error that chooses its process's exit code, as *exec.ExitError does.
type exitCoder interface{ ExitCode() int }

type codeError struct{ code int }

func (e codeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e codeError) ExitCode() int { return e.code }

// Exit returns an error that, returned by an entry, ends the child with this exit code and
// no message. Exit(0) ends it successfully.
func Exit(code int) error { return codeError{code} }
