package shm_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

// openByName is an unrelated process that knows only a segment's name: it opens it and
// writes its mark at offset 0.
var openByName = procs.Entry("shm.openByName", func(ctx context.Context, name string) error {
	seg, err := shm.Open(name)
	if err != nil {
		return err
	}
	defer seg.Close()
	seg.Bytes()[0] = 'C'
	return nil
})

// TestNamePatterns: CPython's SharedMemory(create=True) with no name: a generated name that
// another process opens by name.
func TestNamePatterns(t *testing.T) {
	prefix := testmain.Name(t)
	a, err := shm.Create(prefix+"-*", 64)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = a.Unlink(), a.Close() }()
	b, err := shm.Create(prefix+"-*.x", 64)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = b.Unlink(), b.Close() }()
	if !regexp.MustCompile(`^`+regexp.QuoteMeta(prefix)+`-[a-z0-9]{10}$`).MatchString(a.Name()) ||
		!regexp.MustCompile(`^`+regexp.QuoteMeta(prefix)+`-[a-z0-9]{10}\.x$`).MatchString(b.Name()) {
		t.Fatalf("generated names %q, %q", a.Name(), b.Name())
	}
	p, err := openByName.Start(t.Context(), a.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitContext(t.Context()); err != nil || a.Bytes()[0] != 'C' {
		t.Fatalf("the child opening %q by name: %v, mark %q", a.Name(), err, a.Bytes()[0])
	}
	for _, bad := range []string{prefix + "-*-*", "-*", "*" + strings.Repeat("x", shm.MaxNameLen), "a/*"} {
		if s, err := shm.Create(bad, 64); !errors.Is(err, shm.ErrInvalidName) {
			if s != nil {
				_, _ = s.Unlink(), s.Close()
			}
			t.Errorf("Create(%q): %v, want ErrInvalidName", bad, err)
		}
	}
	// Objects take patterns too.
	m, err := sem.CreateMutex(prefix + "-m-*")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = m.Unlink(), m.Close() }()
	if !strings.HasPrefix(m.Name(), prefix+"-m-") || len(m.Name()) != len(prefix)+13 {
		t.Fatalf("a Mutex made from a pattern is called %q", m.Name())
	}
	// A Duplex fills the pattern in once for its two pipes, so OpenDuplex finds both.
	d, err := ring.CreateDuplex(prefix + "-d*")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(d.AB.Name(), "-ab")
	if d.BA.Name() != base+"-ba" {
		t.Fatalf("duplex pipes %q and %q", d.AB.Name(), d.BA.Name())
	}
	o, err := ring.OpenDuplex(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*ring.Pipe{o.AB, o.BA, d.AB, d.BA} {
		_, _ = p.Unlink(), p.Close()
	}
}

// TestOpenOrCreate: one creator among racing callers; the others open it; a segment too small
// for the request is ErrSize.
func TestOpenOrCreate(t *testing.T) {
	name := testmain.Name(t)
	var created atomic.Int32
	var wg sync.WaitGroup
	segs := make([]*shm.Segment, 8)
	for i := range segs {
		wg.Go(func() {
			s, c, err := shm.OpenOrCreate(name, 4096)
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				created.Add(1)
			}
			segs[i] = s
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d callers created the segment", created.Load())
	}
	segs[0].Bytes()[0] = 42
	for _, s := range segs {
		if s == nil || s.Bytes()[0] != 42 {
			t.Fatal("the callers do not share one segment")
		}
	}
	if s, _, err := shm.OpenOrCreate(name, 8192); !errors.Is(err, shm.ErrSize) {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("OpenOrCreate asking more than the segment holds: %v", err)
	}
	_ = segs[0].Unlink()
	for _, s := range segs {
		_ = s.Close()
	}
}

// TestScope: SharedMemoryManager's shutdown: what a Scope made is unlinked and closed, what it
// only opened is closed and keeps its name, objects in it are closed, and a closed Scope
// takes nothing more.
func TestScope(t *testing.T) {
	prefix := testmain.Name(t)
	outside, err := shm.Create(prefix+"-outside", 64)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = outside.Unlink(), outside.Close() }()
	scope := shm.NewScope()
	defer scope.Close() // on a failure below too; a second Close does nothing
	made, err := shm.Create(prefix+"-*", 64, shm.In(scope))
	if err != nil {
		t.Fatal(err)
	}
	anon, err := shm.Anonymous(64, shm.In(scope))
	if err != nil {
		t.Fatal(err)
	}
	opened, err := shm.Open(outside.Name(), shm.In(scope))
	if err != nil {
		t.Fatal(err)
	}
	sm, err := sem.CreateSemaphore(prefix+"-s-*", 1, shm.In(scope))
	if err != nil {
		t.Fatal(err)
	}
	if scope.Len() != 4 || !strings.Contains(scope.String(), made.Name()) {
		t.Fatalf("scope holds %d: %s", scope.Len(), scope)
	}
	if err := scope.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{made.Name(), sm.Name()} {
		if _, err := named(name); !errors.Is(err, shm.ErrNotExist) {
			t.Errorf("%s is still there after the scope closed: %v", name, err)
		}
	}
	if _, err := named(outside.Name()); err != nil {
		t.Errorf("a segment the scope only opened lost its name: %v", err)
	}
	for _, s := range []*shm.Segment{made, anon, opened} {
		if !s.Closed() {
			t.Errorf("segment %q not closed by the scope", s.Name())
		}
	}
	if err := sm.Acquire(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("a Semaphore whose scope closed: Acquire %v, want ErrClosed", err)
	}
	if err := scope.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if s, err := shm.Create(prefix+"-late-*", 64, shm.In(scope)); !errors.Is(err, shm.ErrClosed) || s != nil {
		t.Fatalf("Create in a closed scope: %v", err)
	}
	if list, _ := shm.List(); func() bool {
		for _, i := range list {
			if strings.HasPrefix(i.Name, prefix+"-late-") {
				return true
			}
		}
		return false
	}() {
		t.Fatal("a Create refused by a closed scope left its name behind")
	}
}
