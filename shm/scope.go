package shm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// A Scope closes every segment made or opened through it (In), and unlinks the named ones it
// made, when it is closed: Python's SharedMemoryManager, made to be deferred. Every object
// constructor takes ...Option, so In(scope) works for queues, locks and arrays as for segments:
//
//	scope := shm.NewScope()
//	defer scope.Close()
//	q, err := ring.CreateQueue("jobs-*", shm.In(scope)) // a generated name, removed at the end
//
// An object whose segment the scope closed is closed for this process (its methods return
// ErrClosed); as with Close, the scope must not be closed while another goroutine still uses
// the memory. Processes that have the objects keep them; only the names go.
type Scope struct {
	mu      sync.Mutex
	entries []scoped
	closed  bool
}

type scoped struct {
	seg  *Segment
	made bool // this process made it: unlink its name at Close
}

// NewScope returns an empty Scope.
func NewScope() *Scope { return &Scope{} }

// In makes the segment (or the object around it) belong to s: Close closes it, and unlinks it
// if it was made (Create, or a Create… of an object) rather than opened. Constructors given a
// closed Scope fail with ErrClosed, leaving nothing behind.
func In(s *Scope) Option { return func(c *config) { c.scope = s } }

// keep records seg in the scope of cfg, if any; if that scope is closed, it undoes seg.
func (c *config) keep(seg *Segment, made bool) (*Segment, error) {
	s := c.scope
	if s == nil {
		return seg, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		if made {
			_ = seg.Unlink()
		}
		_ = seg.Close()
		return nil, fmt.Errorf("%w: the scope is closed", ErrClosed)
	}
	s.entries = append(s.entries, scoped{seg: seg, made: made})
	return seg, nil
}

// Close unlinks the named segments made through s and closes every segment in s, the last
// made first. It returns every error but those of segments already closed, joined; a second
// Close does nothing.
func (s *Scope) Close() error {
	s.mu.Lock()
	entries := s.entries
	s.entries, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.made && e.seg.Name() != "" {
			if err := e.seg.Unlink(); err != nil && !errors.Is(err, ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := e.seg.Close(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Len returns how many segments s holds.
func (s *Scope) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// String describes s: how many segments it holds, and their names.
func (s *Scope) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "shm.Scope(closed)"
	}
	names := make([]string, 0, len(s.entries))
	for _, e := range s.entries {
		n := e.seg.Name()
		if n == "" {
			n = "(anonymous)"
		}
		names = append(names, n)
	}
	return fmt.Sprintf("shm.Scope(%d: %s)", len(s.entries), strings.Join(names, " "))
}

// patternTries is how many generated names Create tries before it gives up.
const patternTries = 100

// ExpandName replaces the '*' in a name pattern with 10 random characters from [a-z0-9], as
// os.CreateTemp does; a name with no '*' comes back as it is. Create does this itself: it is
// exported for objects made of several segments with one base name (ring.CreateDuplex).
func ExpandName(pattern string) string {
	i := strings.LastIndexByte(pattern, '*')
	if i < 0 {
		return pattern
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [10]byte
	_, _ = rand.Read(b[:])
	for j := range b {
		b[j] = alphabet[int(b[j])%len(alphabet)]
	}
	return pattern[:i] + string(b[:]) + pattern[i+1:]
}

// IsPattern reports whether name is a pattern (holds a '*') for Create to fill in.
func IsPattern(name string) bool { return strings.IndexByte(name, '*') >= 0 }

// ValidateCreateName is ValidateName for a name given to Create, which may be a pattern:
// exactly one '*', and a valid name once it is filled in.
func ValidateCreateName(name string) error {
	if !IsPattern(name) {
		return ValidateName(name)
	}
	if strings.Count(name, "*") != 1 {
		return fmt.Errorf("%w: %q: a pattern holds exactly one '*'", ErrInvalidName, name)
	}
	return ValidateName(strings.Replace(name, "*", "0123456789", 1))
}

// createPattern is Create for a pattern: it tries generated names until one is free.
func createPattern(pattern string, try func(name string) (*Segment, error)) (*Segment, error) {
	if err := ValidateCreateName(pattern); err != nil {
		return nil, err
	}
	for range patternTries {
		s, err := try(ExpandName(pattern))
		if !errors.Is(err, ErrExist) {
			return s, err
		}
	}
	return nil, fmt.Errorf("%w: %d names made from %q were all taken", ErrExist, patternTries, pattern)
}
