package procs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/pidinfo"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

type modeArgs struct{ Mode string }

// act ends in the way Mode names.
var act = procs.Entry("procs.act", func(ctx context.Context, a modeArgs) error {
	switch a.Mode {
	case "ok":
		return nil
	case "err":
		return errors.New("the entry failed on purpose")
	case "code":
		return procs.Exit(3)
	case "panic":
		panic("kaboom")
	case "sleep":
		time.Sleep(time.Hour)
	}
	return fmt.Errorf("unknown mode %q", a.Mode)
})

func TestExitCodesAndMessages(t *testing.T) {
	for _, c := range []struct {
		mode string
		code int
		is   error
		msg  string
	}{
		{"ok", 0, nil, ""},
		{"err", 1, nil, "the entry failed on purpose"},
		{"code", 3, nil, ""},
		{"panic", 1, procs.ErrPanic, "kaboom"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			var stderr bytes.Buffer
			p, err := act.Start(t.Context(), modeArgs{c.mode}, procs.Stderr(&stderr))
			if err != nil {
				t.Fatal(err)
			}
			err = p.WaitContext(t.Context())
			// A panicking child says so on its own stderr, with the stack, as any Go program
			// does: a parent that only Joins it must not lose the crash.
			if got := stderr.String(); c.mode == "panic" && (!strings.Contains(got, "panic: kaboom") || !strings.Contains(got, "goroutine ")) {
				t.Errorf("the panicking child's stderr: %q", got)
			} else if c.mode != "panic" && got != "" {
				t.Errorf("child's stderr: %q", got)
			}
			if p.ExitCode() != c.code {
				t.Fatalf("ExitCode %d, want %d (err %v)", p.ExitCode(), c.code, err)
			}
			if c.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ee *procs.ExitError
			if !errors.As(err, &ee) || ee.Code != c.code || ee.Pid != p.Pid() || !strings.Contains(ee.Message, c.msg) {
				t.Fatalf("error %#v", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("%v is not %v", err, c.is)
			}
		})
	}
}

func TestSignals(t *testing.T) {
	for _, c := range []struct {
		name string
		stop func(p *procs.Process, cancel context.CancelFunc) error
		sig  syscall.Signal
	}{
		{"Terminate", func(p *procs.Process, _ context.CancelFunc) error { return p.Terminate() }, syscall.SIGTERM},
		{"Kill", func(p *procs.Process, _ context.CancelFunc) error { return p.Kill() }, syscall.SIGKILL},
		{"context", func(_ *procs.Process, cancel context.CancelFunc) error { cancel(); return nil }, syscall.SIGTERM},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			p, err := act.Start(ctx, modeArgs{"sleep"})
			if err != nil {
				t.Fatal(err)
			}
			if !p.Alive() || p.ExitCode() != procs.NotExited {
				t.Fatal("a sleeping child is not alive")
			}
			if !slices.Contains(procs.ActiveChildren(), p) {
				t.Fatal("ActiveChildren misses a running child")
			}
			if err := c.stop(p, cancel); err != nil {
				t.Fatal(err)
			}
			err = p.WaitContext(context.Background())
			if p.ExitCode() != -int(c.sig) || !errors.Is(err, procs.ErrSignaled) {
				t.Fatalf("ExitCode %d err %v, want -%d", p.ExitCode(), err, c.sig)
			}
			if slices.Contains(procs.ActiveChildren(), p) {
				t.Fatal("ActiveChildren lists a dead child")
			}
			if err := p.Kill(); err != nil {
				t.Fatalf("Kill of a finished child: %v", err)
			}
		})
	}
}

func TestWaitAndJoinHonourContext(t *testing.T) {
	p, err := act.Start(t.Context(), modeArgs{"sleep"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Kill(); _ = p.JoinContext(context.Background()) }()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.WaitContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait: %v", err)
	}
	if err := p.JoinContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Wait overran its context by %v", d)
	}
	if !p.Alive() {
		t.Fatal("a Wait that timed out ended the child")
	}
}

type whoArgs struct {
	Out      *shm.Segment
	WantPPID int
}

// whoami writes its procs.Current into Out as "name|pid|ppid|child".
var whoami = procs.Entry("procs.whoami", func(ctx context.Context, a whoArgs) error {
	c := procs.Current()
	if c.PPid != a.WantPPID {
		return fmt.Errorf("PPid %d, want %d", c.PPid, a.WantPPID)
	}
	// Python's parent_process(): the parent's pid and name, alive while it runs.
	if p := procs.Parent(); p == nil || p.Pid() != a.WantPPID || p.Name() != "MainProcess" || !p.Alive() || !c.Daemon ||
		!strings.Contains(p.String(), fmt.Sprint(a.WantPPID)) {
		return fmt.Errorf("Parent() = %v, daemon %v", p, c.Daemon)
	}
	copy(a.Out.Bytes(), fmt.Sprintf("%s|%d|%v|", c.Name, c.Pid, c.Child))
	return nil
})

func TestCurrentInChild(t *testing.T) {
	out, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p, err := whoami.Start(t.Context(), whoArgs{Out: out, WantPPID: os.Getpid()}, procs.WithName("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("alice|%d|true|", p.Pid())
	if got := string(out.Bytes()[:len(want)]); got != want || p.Name() != "alice" {
		t.Fatalf("child says %q, want %q", got, want)
	}
	if c := procs.Current(); c.Name != "MainProcess" || c.Child || c.Pid != os.Getpid() {
		t.Fatalf("parent's Current: %+v", c)
	}
	if p := procs.Parent(); p != nil {
		t.Fatalf("a process procs did not start has a Parent: %v", p)
	}
}

func TestCPUCount(t *testing.T) {
	n := procs.CPUCount()
	if n < 1 || n > 4096 {
		t.Fatalf("CPUCount %d", n)
	}
}

type spawnArgs struct {
	Out     *shm.Segment
	Daemon  bool
	Command bool // start sleep(1) through procs.Command instead of an entry
	Warm    bool // start the entry in a warm spare
}

// spawner starts a sleeping grandchild, publishes its pid and start time, then sleeps itself.
var spawner = procs.Entry("procs.spawner", func(ctx context.Context, a spawnArgs) error {
	var p *procs.Process
	var err error
	if a.Warm {
		if err := procs.WarmSpares(1); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond) // for the spare to be up
	}
	if a.Command {
		p, err = procs.Command(context.Background(), os.Args[0], nil, procs.Daemon(a.Daemon), procs.Env(testmain.NoopEnv+"=sleep")).Start()
	} else {
		p, err = act.Start(context.Background(), modeArgs{"sleep"}, procs.Daemon(a.Daemon))
	}
	if err != nil {
		return err
	}
	start, err := pidinfo.StartTime(p.Pid())
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(a.Out.Bytes()[8:], start)
	binary.LittleEndian.PutUint64(a.Out.Bytes()[0:], uint64(p.Pid()))
	time.Sleep(time.Hour)
	return nil
})

// grandchild starts spawner, waits for the grandchild's pid, and SIGKILLs the spawner.
func grandchild(t *testing.T, daemon, command bool, warm ...bool) (pid int, start uint64) {
	t.Helper()
	out, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p, err := spawner.Start(t.Context(), spawnArgs{Out: out, Daemon: daemon, Command: command, Warm: len(warm) > 0 && warm[0]})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			_ = p.Kill()
			t.Fatal("spawner never published its child")
		}
		start = binary.LittleEndian.Uint64(out.Bytes()[8:])
		pid = int(binary.LittleEndian.Uint64(out.Bytes()[0:]))
	}
	if !pidinfo.Alive(pid, start) {
		t.Fatal("grandchild not running")
	}
	if env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); len(warm) > 0 && warm[0] && !strings.Contains(string(env), "SHMKIT_ENTRY=procs.spare") {
		_ = p.Kill()
		t.Fatal("the grandchild was not a warm spare")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.JoinContext(t.Context())
	return pid, start
}

// An entry child dies through its lifeline, a Command child through the parent-death signal,
// and an entry handed to a warm spare through the spare's socket, its lifeline.
func TestDaemonDiesWithParent(t *testing.T) {
	for _, c := range []struct{ command, warm bool }{{false, false}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("command=%v/warm=%v", c.command, c.warm), func(t *testing.T) {
			if c.warm && runtime.GOOS == "windows" {
				t.Skip("no warm spares on Windows")
			}
			pid, start := grandchild(t, true, c.command, c.warm)

			for deadline := time.Now().Add(5 * time.Second); pidinfo.Alive(pid, start); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					_ = testmain.Kill(pid)
					t.Fatal("daemon grandchild outlived its SIGKILLed parent by 5 s")
				}
			}
		})
	}
}

func TestNonDaemonOutlivesParent(t *testing.T) {
	for _, command := range []bool{false, true} {
		t.Run(fmt.Sprintf("command=%v", command), func(t *testing.T) {
			pid, start := grandchild(t, false, command)
			time.Sleep(200 * time.Millisecond)
			alive := pidinfo.Alive(pid, start)
			_ = testmain.Kill(pid)
			if !alive {
				t.Fatal("Daemon(false) grandchild died with its parent")
			}
		})
	}
}

var noArg = procs.Entry0("procs.noArg", func(ctx context.Context) error {
	if procs.Current().Name == "" {
		return errors.New("no name")
	}
	return nil
})

// An entry with no argument; a non-daemon child that JoinAll waits for, while daemon
// children are not waited for; Daemon and String report what Python's repr shows.
func TestEntry0AndJoinAll(t *testing.T) {
	if err := noArg.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	daemon, err := act.Start(t.Context(), modeArgs{"sleep"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = daemon.Kill(); _ = daemon.JoinContext(context.Background()) }()
	kept, err := sleepFor.Start(t.Context(), 200*time.Millisecond, procs.Daemon(false))
	if err != nil {
		t.Fatal(err)
	}
	if !daemon.Daemon() || kept.Daemon() {
		t.Fatalf("Daemon(): %v and %v", daemon.Daemon(), kept.Daemon())
	}
	if s := kept.String(); !strings.Contains(s, kept.Name()) || !strings.Contains(s, "started") {
		t.Errorf("String of a running child: %s", s)
	}
	// The daemon sleeps for ever: a JoinAll that waited for it would end with the context's
	// error (the bound is generous: under -race on a loaded CI machine a start takes seconds).
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := procs.JoinAllContext(ctx); err != nil {
		t.Fatalf("JoinAll: %v (did it wait for the daemon?)", err)
	}
	if kept.Alive() || !daemon.Alive() {
		t.Fatalf("after JoinAll: the non-daemon child alive %v, the daemon alive %v", kept.Alive(), daemon.Alive())
	}
	if s := kept.String(); !strings.Contains(s, "exitcode=0") {
		t.Errorf("String of an exited child: %s", s)
	}
}

var sleepFor = procs.Entry("procs.sleepFor", func(ctx context.Context, d time.Duration) error {
	time.Sleep(d)
	return nil
})

// maxprocs reports the worker's GOMAXPROCS and its GOMAXPROCS variable.
var maxprocs = procs.Func("procs.maxprocs", func(ctx context.Context, _ int32) (string, error) {
	v, set := os.LookupEnv("GOMAXPROCS")
	return fmt.Sprintf("%d|%s|%v", runtime.GOMAXPROCS(0), v, set), nil
})

// maxprocsIs fails unless the process's GOMAXPROCS is want: a pool's Init, an entry.
var maxprocsIs = procs.Entry("procs.maxprocsIs", func(ctx context.Context, want int) error {
	if got := runtime.GOMAXPROCS(0); got != want {
		return fmt.Errorf("GOMAXPROCS is %d, want %d", got, want)
	}
	return nil
})

// TestChildGOMAXPROCS: a child starts its runtime with GOMAXPROCS=1 (a cheaper start) unless
// the parent set GOMAXPROCS, and runs its entry with the default restored, as if the variable
// had never been set; a GOMAXPROCS the parent set is the child's, as ever. The restore is late
// in a pool worker (after its ready record) and early in a warm spare (while it idles): every
// place user code runs sees the default, a task, a pool's Init, an entry exec'd or handed to
// a spare.
func TestChildGOMAXPROCS(t *testing.T) {
	old, had := os.LookupEnv("GOMAXPROCS")
	t.Cleanup(func() {
		if had {
			os.Setenv("GOMAXPROCS", old)
		} else {
			os.Unsetenv("GOMAXPROCS")
		}
	})
	// The default this parent would have: what a fresh process gets on this machine.
	os.Unsetenv("GOMAXPROCS")
	mine := runtime.GOMAXPROCS(0)
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(mine)
	for _, c := range []struct {
		env  string // "" leaves GOMAXPROCS unset in the parent
		want string
	}{
		{"", fmt.Sprintf("%d||false", def)},
		{"3", "3|3|true"},
	} {
		if c.env == "" {
			os.Unsetenv("GOMAXPROCS")
		} else {
			os.Setenv("GOMAXPROCS", c.env)
		}
		p, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, err := procs.Apply(t.Context(), p, maxprocs, 0)
		p.Terminate()
		if err != nil || got != c.want {
			t.Errorf("GOMAXPROCS=%q in the parent: the worker says %q (%v), want %q", c.env, got, err, c.want)
		}
	}
	os.Unsetenv("GOMAXPROCS")
	p, err := procs.NewPool(t.Context(), procs.PoolConfig{Workers: 1, Init: procs.InitWith(maxprocsIs, def)})
	if err != nil {
		t.Fatalf("a pool's Init: %v", err)
	}
	p.Terminate()
	if err := maxprocsIs.Run(t.Context(), def, procs.Spare(false)); err != nil {
		t.Errorf("an exec'd entry: %v", err)
	}
	if err := procs.WarmSpares(1); errors.Is(err, procs.ErrNotSupported) {
		return // no spares here (Windows): every start is an exec, tested above
	} else if err != nil {
		t.Fatal(err)
	}
	defer procs.WarmSpares(0)
	time.Sleep(100 * time.Millisecond) // the spare is up and idle
	if err := maxprocsIs.Run(t.Context(), def); err != nil {
		t.Errorf("an entry handed to a warm spare: %v", err)
	}
}

type orphanArgs struct {
	Out *shm.Segment // byte 0: 'W' once the orphan saw its parent exit
}

// orphan waits for its parent to exit (Python's parent_process().join()), then marks Out.
var orphan = procs.Entry("procs.orphan", func(ctx context.Context, a orphanArgs) (err error) {
	defer func() {
		if err != nil {
			copy(a.Out.Bytes()[1:], err.Error())
		}
	}()
	p := procs.Parent()
	if p == nil || p.Name() != "middle" {
		return fmt.Errorf("Parent() = %v, want the process named middle", p)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a.Out.Bytes()[63] = 'S'
	if err := p.Wait(wctx); err != nil {
		return err
	}
	if p.Alive() {
		return errors.New("Wait returned while the parent is alive")
	}
	a.Out.Bytes()[0] = 'W'
	return nil
})

// middle starts a non-daemon orphan-to-be, then sleeps until it is killed.
var middle = procs.Entry("procs.middle", func(ctx context.Context, a orphanArgs) error {
	if _, err := orphan.Start(ctx, a, procs.Daemon(false)); err != nil {
		return err
	}
	time.Sleep(time.Hour)
	return nil
})

func TestParentWait(t *testing.T) {
	out, err := shm.Anonymous(64)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p, err := middle.Start(t.Context(), orphanArgs{Out: out}, procs.WithName("middle"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for out.Bytes()[63] != 'S' && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_ = p.Kill()
	_ = p.JoinContext(t.Context())
	for out.Bytes()[0] != 'W' {
		if time.Now().After(deadline) {
			t.Fatalf("the orphan did not see its parent exit: %q", strings.TrimRight(string(out.Bytes()[1:]), "\x00"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
