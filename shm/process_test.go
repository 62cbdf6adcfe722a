package shm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

// Child roles. Each runs in a re-executed copy of this test binary.

type fillArgs struct {
	Seg  *shm.Segment
	Byte byte
	From int // fill Seg.Bytes()[From:To]
	To   int
}

// fill writes Byte over a range of the segment after checking the parent's marker at offset 0.
var fill = procs.Entry("shm.fill", func(ctx context.Context, a fillArgs) error {
	b := a.Seg.Bytes()
	if b[0] != 'P' {
		return fmt.Errorf("child sees %q at offset 0, want the parent's 'P'", b[0])
	}
	for i := a.From; i < a.To; i++ {
		b[i] = a.Byte
	}
	return nil
})

type manyArgs struct {
	Named []*shm.Segment
	Anon  [2]*shm.Segment
	Nil   *shm.Segment
	Note  string
}

// stamp writes each segment's index into it, and the note into the first.
var stamp = procs.Entry("shm.stamp", func(ctx context.Context, a manyArgs) error {
	if a.Nil != nil {
		return errors.New("nil segment arrived non-nil")
	}
	all := append(append([]*shm.Segment{}, a.Named...), a.Anon[:]...)
	for i, s := range all {
		s.Bytes()[0] = byte(i + 1)
	}
	copy(a.Named[0].Bytes()[1:], a.Note)
	return nil
})

type holdArgs struct {
	Name string
	Init bool // block inside Create's Init, before the segment is published
	Size int  // 4096 if 0
}

// hold creates a segment and blocks until killed.
var hold = procs.Entry("shm.hold", func(ctx context.Context, a holdArgs) error {
	var opts []shm.Option
	if a.Init {
		opts = append(opts, shm.Init(func([]byte) error { time.Sleep(time.Hour); return nil }))
	}
	size := a.Size
	if size == 0 {
		size = 4096
	}
	s, err := shm.Create(a.Name, size, opts...)
	if err != nil {
		return err
	}
	s.Bytes()[0] = 'H'
	time.Sleep(time.Hour)
	return nil
})

type slowArgs struct {
	Name  string
	Delay time.Duration
}

// slowCreate publishes a segment only after Delay, having written 'R' into it.
var slowCreate = procs.Entry("shm.slow", func(ctx context.Context, a slowArgs) error {
	s, err := shm.Create(a.Name, 4096, shm.Kind("test.slow"), shm.Init(func(b []byte) error {
		time.Sleep(a.Delay)
		b[0] = 'R'
		return nil
	}))
	if err != nil {
		return err
	}
	defer s.Close()
	time.Sleep(time.Second) // stay attached while the parent checks
	return nil
})

func TestParentCreatesChildWrites(t *testing.T) {
	name := testmain.Name(t)
	s, err := shm.Create(name, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Bytes()[0] = 'P'
	if err := fill.Run(t.Context(), fillArgs{Seg: s, Byte: 0xAB, From: 1, To: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	b := s.Bytes()
	if b[0] != 'P' || b[1] != 0xAB || b[len(b)-1] != 0xAB || bytes.Count(b, []byte{0xAB}) != len(b)-1 {
		t.Fatal("parent does not see the child's writes")
	}
}

func TestAnonymousByFD(t *testing.T) {
	s, err := shm.Anonymous(64 << 10)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != "" {
		t.Fatalf("anonymous segment has name %q", s.Name())
	}
	s.Bytes()[0] = 'P'
	if err := fill.Run(t.Context(), fillArgs{Seg: s, Byte: 7, From: 100, To: 200}); err != nil {
		t.Fatal(err)
	}
	if b := s.Bytes(); b[99] != 0 || b[100] != 7 || b[199] != 7 || b[200] != 0 {
		t.Fatal("child's writes through the inherited fd are not visible")
	}
}

func TestTwoChildrenOneSegment(t *testing.T) {
	name := testmain.Name(t)
	s, err := shm.Create(name, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Bytes()[0] = 'P'
	a, err := fill.Start(t.Context(), fillArgs{Seg: s, Byte: 1, From: 1, To: 4096})
	if err != nil {
		t.Fatal(err)
	}
	b, err := fill.Start(t.Context(), fillArgs{Seg: s, Byte: 2, From: 4096, To: 8192})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(a.WaitContext(t.Context()), b.WaitContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	p := s.Bytes()
	if bytes.Count(p[1:4096], []byte{1}) != 4095 || bytes.Count(p[4096:], []byte{2}) != 4096 {
		t.Fatal("the two children's halves are not both there")
	}
}

func TestManySegmentsInOneArgument(t *testing.T) {
	var named []*shm.Segment
	for range 3 {
		s, err := shm.Create(testmain.Name(t), 4096)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		named = append(named, s)
	}
	named = append(named, named[1]) // the same segment twice: one mapping in the child
	var anon [2]*shm.Segment
	for i := range anon {
		s, err := shm.Anonymous(4096)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		anon[i] = s
	}
	if err := stamp.Run(t.Context(), manyArgs{Named: named, Anon: anon, Note: "hello"}); err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 4, 3, 4, 5, 6} // named[1] was stamped 2, then 4 through its second handle
	got := []byte{named[0].Bytes()[0], named[1].Bytes()[0], named[2].Bytes()[0], named[3].Bytes()[0], anon[0].Bytes()[0], anon[1].Bytes()[0]}
	if !bytes.Equal(got, want) {
		t.Fatalf("stamps %v, want %v", got, want)
	}
	if string(named[0].Bytes()[1:6]) != "hello" {
		t.Fatal("plain field did not travel")
	}
}

func TestOpenWaitsForReady(t *testing.T) {
	name := testmain.Name(t)
	p, err := slowCreate.Start(t.Context(), slowArgs{Name: name, Delay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.WaitContext(context.Background())
	var s *shm.Segment
	for s == nil {
		s, err = shm.Open(name, shm.Kind("test.slow"))
		if errors.Is(err, shm.ErrNotExist) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	defer s.Close()
	if s.Bytes()[0] != 'R' {
		t.Fatal("Open returned before the creator's Init finished")
	}
}

// A creator killed inside Init leaves nothing behind: the segment had no name yet, so no
// opener, ls or later Create sees it, and its memory went with the process.
func TestCreatorDiesInitialising(t *testing.T) {
	name := testmain.Name(t)
	p, err := hold.Start(t.Context(), holdArgs{Name: name, Init: true})
	if err != nil {
		t.Fatal(err)
	}
	// A Windows section has its name from the start (there is no rename to publish it by), so
	// Open finds it and waits for it to be ready, in vain.
	want := shm.ErrNotExist
	if runtime.GOOS == "windows" {
		want = shm.ErrNotReady
	}
	if _, err := openWhileInit(t, name, 50*time.Millisecond); !errors.Is(err, want) {
		t.Fatalf("open while the creator initialises: %v, want %v", err, want)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.JoinContext(t.Context())
	if _, err := shm.Open(name); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("open after the creator died initialising: %v, want ErrNotExist", err)
	}
	s, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatalf("create of the dead creator's name: %v", err)
	}
	_ = s.Close()
	_ = shm.Remove(name)
}

func TestKilledCreatorLeavesStaleSegment(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a Windows section dies with its last handle: nothing is left stale (TestCreatorDiesInitialising covers the name going)")
	}
	deadName, liveName := testmain.Name(t), testmain.Name(t)
	live, err := shm.Create(liveName, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	p, err := hold.Start(t.Context(), holdArgs{Name: deadName})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, deadName)
	if info, err := shm.Stat(deadName); err != nil || info.Stale || info.CreatorPID != p.Pid() {
		t.Fatalf("while the child lives: %+v, %v", info, err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.JoinContext(t.Context())
	if p.ExitCode() != -int(syscall.SIGKILL) {
		t.Fatalf("ExitCode %d, want -9", p.ExitCode())
	}
	stale := map[string]bool{}
	all, err := shm.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range all {
		stale[i.Name] = i.Stale
	}
	if !stale[deadName] || stale[liveName] {
		t.Fatalf("List: dead child's segment stale=%v, live segment stale=%v", stale[deadName], stale[liveName])
	}
	got, err := shm.Reclaim(shm.ReclaimOptions{Prefix: testmain.Prefix()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != deadName {
		t.Fatalf("Reclaim removed %v, want only %s", got, deadName)
	}
	if _, err := shm.Stat(deadName); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("reclaimed segment still there: %v", err)
	}
	if _, err := shm.Stat(liveName); err != nil {
		t.Fatalf("live segment harmed: %v", err)
	}
}

// openWhileInit opens name, whose creator (a hold child with Init) is starting and will stay in
// its Init, with the timeout given, and returns what that Open took and its error. On Linux
// it first lets the child get into Init; on Windows, where the name exists from the start of
// Init, it tries until the name is there (a child under wine takes a while to start).
func openWhileInit(t *testing.T, name string, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	if runtime.GOOS != "windows" {
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		_, err := shm.Open(name, shm.Timeout(timeout))
		return time.Since(start), err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		start := time.Now()
		s, err := shm.Open(name, shm.Timeout(timeout))
		if err == nil {
			_ = s.Close()
		}
		if !errors.Is(err, shm.ErrNotExist) || time.Now().After(deadline) {
			return time.Since(start), err
		}
	}
}

func waitReady(t *testing.T, name string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if info, err := named(name); err == nil && info.Ready {
			return
		}
	}
	t.Fatalf("%s never became ready", name)
}

// While a slow creator initialises, its name does not exist yet: Open fails at once with
// ErrNotExist (there is nothing to wait for), and succeeds once the creator has published.
func TestOpenGivesUpOnSlowCreator(t *testing.T) {
	name := testmain.Name(t)
	p, err := hold.Start(t.Context(), holdArgs{Name: name, Init: true}) // never publishes
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Kill(); _ = p.JoinContext(context.Background()) }()
	if runtime.GOOS == "windows" {
		// The section has its name from the start: Open waits its Timeout for the creator.
		if d, err := openWhileInit(t, name, 150*time.Millisecond); !errors.Is(err, shm.ErrNotReady) {
			t.Fatalf("Open during Init: %v, want ErrNotReady", err)
		} else if d < 150*time.Millisecond {
			t.Fatalf("Open gave up after %v, before its timeout", d)
		}
		return
	}
	time.Sleep(100 * time.Millisecond) // let it get into Init

	start := time.Now()
	if _, err := shm.Open(name, shm.Timeout(150*time.Millisecond)); !errors.Is(err, shm.ErrNotExist) {
		t.Fatalf("Open during Init: %v, want ErrNotExist", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Open of a name being created took %v: it must not wait", d)
	}
	if infos, err := shm.List(); err != nil {
		t.Fatal(err)
	} else {
		for _, i := range infos {
			if i.Name == name {
				t.Fatalf("List shows a segment still being created: %+v", i)
			}
		}
	}
}

type idArgs struct {
	Seg  *shm.Segment
	Name string
	Want uint64
}

// sameID checks that a segment handed over (anonymous) and one opened by name have, in this
// process, the IDs they have in the parent.
var sameID = procs.Entry("shm.sameID", func(ctx context.Context, a idArgs) error {
	named, err := shm.Open(a.Name)
	if err != nil {
		return err
	}
	defer named.Close()
	if a.Seg.ID() != a.Want || named.ID() == a.Want || named.ID() == 0 {
		return fmt.Errorf("IDs here: handed %#x, named %#x; the parent's handed %#x", a.Seg.ID(), named.ID(), a.Want)
	}
	return nil
})

// TestSegmentID: a segment's ID is the same in every process and every mapping, differs
// between segments, and is 0 after Close.
func TestSegmentID(t *testing.T) {
	anon, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	name := testmain.Name(t)
	named, err := shm.Create(name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer shm.Remove(name)
	defer named.Close()
	again, err := shm.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if named.ID() == 0 || named.ID() != again.ID() || named.ID() == anon.ID() {
		t.Fatalf("IDs: named %#x, reopened %#x, anonymous %#x", named.ID(), again.ID(), anon.ID())
	}
	_ = again.Close()
	if again.ID() != 0 {
		t.Fatalf("ID after Close: %#x", again.ID())
	}
	if err := sameID.Run(t.Context(), idArgs{Seg: anon, Name: name, Want: anon.ID()}); err != nil {
		t.Fatal(err)
	}
}
