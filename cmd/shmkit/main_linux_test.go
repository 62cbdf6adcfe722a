package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/ring"
	"github.com/shmkit/shmkit/sem"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) { testmain.Run(m) }

// holder creates a segment and sleeps until it is killed.
var holder = procs.Entry("cli.holder", func(ctx context.Context, name string) error {
	if _, err := shm.Create(name, 4096, shm.Kind("test.dead")); err != nil {
		return err
	}
	time.Sleep(time.Hour)
	return nil
})

// shmkit runs the built binary and returns its stdout, stderr and exit code.
func shmkit(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// everyProcessInspectable mirrors the rule shm.Reclaim applies to Raw segments: they are stale
// only if every process's open files and mappings can be read.
func everyProcessInspectable() bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if d == fmt.Sprintf("/proc/%d", os.Getpid()) {
			continue
		}
		if _, err := os.ReadDir(d + "/fd"); err != nil && !os.IsNotExist(err) {
			return false
		}
		if f, err := os.Open(d + "/maps"); err == nil {
			_, rerr := f.Read(make([]byte, 1))
			f.Close()
			if rerr != nil && rerr != io.EOF {
				return false
			}
		} else if !os.IsNotExist(err) {
			return false
		}
	}
	return true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func decode(t *testing.T, out string) map[string]segmentJSON {
	t.Helper()
	got := map[string]segmentJSON{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var j segmentJSON
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		got[j.Name] = j
	}
	return got
}

func TestCLI(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "shmkit")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	live, dead, extra := testmain.Name(t), testmain.Name(t), testmain.Name(t)
	s, err := shm.Create(live, 8192, shm.Kind("test.cli"), shm.Layout("cli/v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, err := shm.Create(extra, 100, shm.Raw())
	if err != nil {
		t.Fatal(err)
	}
	x.Close()

	p, err := holder.Start(t.Context(), dead)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if i, err := shm.Stat(dead); err == nil && i.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("child's segment never became ready")
		}
	}
	_ = p.Kill()
	_ = p.JoinContext(t.Context())
	if p.ExitCode() != -9 {
		t.Fatalf("ExitCode %d, want -9", p.ExitCode())
	}

	t.Run("ls", func(t *testing.T) {
		out, _, code := shmkit(t, bin, "ls", "--json")
		got := decode(t, out)
		l, d := got[live], got[dead]
		if code != 0 || l.Kind != "test.cli" || l.Size != 8192 || l.Stale || !slices.Contains(l.Attached, os.Getpid()) ||
			l.CreatorPID != os.Getpid() || l.Fingerprint != fmt.Sprintf("%016x", shm.Fingerprint("cli/v1")) {
			t.Errorf("live segment: %+v (exit %d)", l, code)
		}
		if !d.Stale || d.CreatorPID != p.Pid() || d.Kind != "test.dead" || len(d.Attached) != 0 {
			t.Errorf("dead child's segment: %+v", d)
		}
		// A Raw segment is stale only if gc can see that no process maps it (see shm.Reclaim).
		if !got[extra].Raw || got[extra].Stale != everyProcessInspectable() {
			t.Errorf("closed raw segment (every process inspectable: %v): %+v", everyProcessInspectable(), got[extra])
		}
		human, _, _ := shmkit(t, bin, "ls")
		for _, want := range []string{"NAME", live, dead, "test.cli", "stale", "live"} {
			if !strings.Contains(human, want) {
				t.Errorf("ls output lacks %q:\n%s", want, human)
			}
		}
	})
	t.Run("info", func(t *testing.T) {
		out, _, code := shmkit(t, bin, "info", live)
		for _, want := range []string{"kind", "test.cli", "8192 bytes", "live", "fingerprint"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("info lacks %q (exit %d):\n%s", want, code, out)
			}
		}
		out, _, _ = shmkit(t, bin, "info", dead, "--json")
		if j := decode(t, out)[dead]; !j.Stale || !j.Ready {
			t.Errorf("info --json of the dead segment: %+v", j)
		}
	})
	t.Run("info shows the object", func(t *testing.T) {
		mu, err := sem.CreateMutex(testmain.Name(t))
		if err != nil {
			t.Fatal(err)
		}
		defer mu.Unlink()
		defer mu.Close()
		if err := mu.Lock(); err != nil {
			t.Fatal(err)
		}
		defer mu.Unlock()
		q, err := ring.CreateQueue(testmain.Name(t), ring.Capacity(16), ring.SlotSize(64))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Unlink()
		defer q.Close()
		for range 3 {
			if err := q.Put([]byte("job")); err != nil {
				t.Fatal(err)
			}
		}
		a, err := ctypes.CreateArray[float64](testmain.Name(t), 4)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Unlink()
		defer a.Close()
		if _, err := a.CopyFrom([]float64{1.5, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		type point struct{ X, Y float32 }
		v, err := ctypes.CreateValue(testmain.Name(t), point{1, 2})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Unlink()
		defer v.Close()
		for name, want := range map[string]string{
			v.Name():  fmt.Sprintf("ctypes.Value[[('X', '<f4'), ('Y', '<f4')]](%s)", v.Name()), // no Go type here: numpy's
			mu.Name(): fmt.Sprintf("sem.Mutex(owner pid %d)", os.Getpid()),
			q.Name():  fmt.Sprintf("ring.Queue(%s, 3 of 16 messages of up to 64 bytes)", q.Name()),
			a.Name():  fmt.Sprintf("ctypes.Array[float64](%s, len 4: [1.5 2 3 4])", a.Name()),
		} {
			out, errOut, code := shmkit(t, bin, "info", name)
			if code != 0 || !strings.Contains(out, "object") || !strings.Contains(out, want) {
				t.Errorf("info %s (exit %d) lacks %q:\n%s%s", name, code, want, out, errOut)
			}
		}
		out, _, _ := shmkit(t, bin, "info", "--json", q.Name())
		if j := decode(t, out)[q.Name()]; !strings.Contains(j.Object, "3 of 16 messages") {
			t.Errorf("info --json of a queue: %+v", j)
		}
		if q.Len() != 3 {
			t.Errorf("info took from the queue: %d left", q.Len())
		}
	})
	t.Run("gc", func(t *testing.T) {
		out, _, code := shmkit(t, bin, "gc", "--dry-run", "--prefix", testmain.Prefix())
		if code != 0 || !strings.Contains(out, "would remove "+dead) || strings.Contains(out, live) {
			t.Fatalf("dry run (exit %d):\n%s", code, out)
		}
		if _, err := shm.Stat(dead); err != nil {
			t.Fatalf("dry run removed it: %v", err)
		}
		out, _, code = shmkit(t, bin, "gc", "--json", "--prefix", testmain.Prefix())
		got := decode(t, out)
		_, rawGone := got[extra]
		if _, ok := got[dead]; code != 0 || !ok || rawGone != everyProcessInspectable() || len(got) != 1+btoi(rawGone) {
			t.Fatalf("gc removed %v (exit %d), want %s, and %s if every process can be inspected (%v)", got, code, dead, extra, everyProcessInspectable())
		}
		if _, err := shm.Stat(dead); !errors.Is(err, shm.ErrNotExist) {
			t.Fatalf("dead segment still there: %v", err)
		}
		if _, err := shm.Stat(live); err != nil {
			t.Fatalf("gc harmed the live segment: %v", err)
		}
		if s.Bytes()[0] = 1; s.Bytes()[0] != 1 {
			t.Fatal("live mapping unusable")
		}
	})
	t.Run("rm", func(t *testing.T) {
		y, err := shm.Create(testmain.Name(t), 64)
		if err != nil {
			t.Fatal(err)
		}
		y.Close()
		out, _, code := shmkit(t, bin, "rm", y.Name())
		if code != 0 || !strings.Contains(out, "removed") {
			t.Fatalf("rm (exit %d): %s", code, out)
		}
		_, errOut, code := shmkit(t, bin, "rm", y.Name())
		if code != 1 || !strings.Contains(errOut, "no such file") {
			t.Fatalf("rm of a missing name (exit %d): %s", code, errOut)
		}
		z, err := shm.Create(testmain.Name(t), 64)
		if err != nil {
			t.Fatal(err)
		}
		z.Close()
		if out, errOut, code := shmkit(t, bin, "rm", "--", z.Name()); code != 0 || !strings.Contains(out, "removed") {
			t.Fatalf("rm -- NAME (exit %d): %s %s", code, out, errOut)
		}
	})
	t.Run("rm refuses what is not shmkit's", func(t *testing.T) {
		plain, fifo, link := testmain.Name(t), testmain.Name(t), testmain.Name(t)
		if err := os.WriteFile(shm.Dir+"/"+plain, []byte("somebody else's data"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(shm.Dir+"/"+fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(shm.Dir+"/"+plain, shm.Dir+"/"+link); err != nil {
			t.Fatal(err)
		}
		for name, what := range map[string]string{plain: "neither a shmkit header", fifo: "a FIFO", link: "a symbolic link"} {
			_, errOut, code := shmkit(t, bin, "rm", name)
			if code != 1 || !strings.Contains(errOut, what) || !strings.Contains(errOut, "not a shmkit segment") {
				t.Errorf("rm of %s (exit %d): %s", what, code, errOut)
			}
			if _, err := os.Lstat(shm.Dir + "/" + name); err != nil {
				t.Errorf("rm removed %s: %v", what, err)
			}
		}
		if b, err := os.ReadFile(shm.Dir + "/" + plain); err != nil || string(b) != "somebody else's data" {
			t.Errorf("the plain file changed: %q %v", b, err)
		}
	})
	t.Run("info on damage", func(t *testing.T) {
		short, long := testmain.Name(t), testmain.Name(t)
		hdr, err := shm.Create(long, 64)
		if err != nil {
			t.Fatal(err)
		}
		hdr.Close()
		full, err := os.ReadFile(shm.Dir + "/" + long)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shm.Dir+"/"+short, full[:8], 0o600); err != nil { // the magic only
			t.Fatal(err)
		}
		if err := os.WriteFile(shm.Dir+"/"+long, append(full, make([]byte, 4096)...), 0o600); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{short: "truncated", long: "size mismatch"} {
			out, errOut, code := shmkit(t, bin, "info", name)
			if code != 1 || !strings.Contains(out, "damaged") || !strings.Contains(out, want) || !strings.Contains(errOut, "damaged") {
				t.Errorf("info of a %s file (exit %d):\n%s%s", want, code, out, errOut)
			}
			if name == short && strings.Contains(out, "128 bytes") {
				t.Errorf("info shows a 128-byte header in an 8-byte file:\n%s", out)
			}
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			code int
			want string
		}{
			{nil, 2, "usage"},
			{[]string{"bogus"}, 2, "unknown command"},
			{[]string{"info"}, 2, "usage"},
			{[]string{"ls", "--nope"}, 2, "usage"},
			{[]string{"info", "../etc"}, 1, "invalid segment name"},
			{[]string{"info", "-rf"}, 2, "usage"},
			{[]string{"rm", "--", "-rf"}, 1, "invalid segment name"},
			{[]string{"info", testmain.Prefix() + "missing"}, 1, "no such file"},
		} {
			_, errOut, code := shmkit(t, bin, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("shmkit %v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
			}
		}
	})
}

// shmkit bench, run as a user would: flags, the table, the JSON lines, and bad input.
func TestBenchCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "shmkit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, errOut, code := shmkit(t, bin, "bench", "--quick", "--only", "^(floor_memcpy_gbps|mutex_uncontended)$")
	if code != 0 || !strings.Contains(out, "machine: ") || !strings.Contains(out, "floor_memcpy_gbps") ||
		!strings.Contains(out, "mutex_uncontended") || strings.Contains(out, "spsc_64B") || !strings.Contains(errOut, "done in") {
		t.Fatalf("bench --quick --only: code %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = shmkit(t, bin, "bench", "--quick", "--json", "--only", "^floor_memcpy_gbps$")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var machine struct {
		Machine struct {
			CPU   string `json:"cpu"`
			Cores int    `json:"cores"`
		} `json:"machine"`
	}
	var r struct {
		Name, Impl, Unit string
		Value            float64
	}
	if code != 0 || len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &machine) != nil || machine.Machine.Cores < 1 ||
		json.Unmarshal([]byte(lines[1]), &r) != nil || r.Name != "floor_memcpy_gbps" || r.Impl != "floor" || r.Unit != "GB/s" || r.Value <= 0 {
		t.Fatalf("bench --json: code %d\n%s", code, out)
	}
	chart := filepath.Join(t.TempDir(), "chart.svg")
	if _, errOut, code := shmkit(t, bin, "bench", "--quick", "--only", "^(pingpong_64B_rtt_spin|floor_spin_rtt)$", "--svg", chart); code != 0 {
		t.Fatalf("--svg: code %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(chart); err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "pingpong_64B_rtt_spin") {
		t.Fatalf("--svg wrote %d bytes: %v", len(b), err)
	}
	if _, errOut, code := shmkit(t, bin, "bench", "--only", "no-such-scenario"); code != 1 || !strings.Contains(errOut, "no scenario matches") {
		t.Fatalf("--only with no match: code %d, %s", code, errOut)
	}
	if _, _, code := shmkit(t, bin, "bench", "--only", "("); code != 1 {
		t.Fatalf("--only with a bad pattern: code %d", code)
	}
	if _, _, code := shmkit(t, bin, "bench", "--frobnicate"); code != 2 {
		t.Fatalf("an unknown flag: code %d", code)
	}
}

// shmkit demo renders on a pool, checks the pool's image against the serial one, and writes
// a PNG of the size asked for.
func TestDemoCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "shmkit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pic := filepath.Join(t.TempDir(), "m.png")
	out, errOut, code := shmkit(t, bin, "demo", "--width", "120", "--height", "90", "--iter", "300", "--out", pic)
	if code != 0 || !strings.Contains(out, "speedup") || !strings.Contains(out, pic) {
		t.Fatalf("demo: code %d\n%s\n%s", code, out, errOut)
	}
	f, err := os.Open(pic)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 120 || img.Bounds().Dy() != 90 {
		t.Fatalf("the picture: %v %v", img.Bounds(), err)
	}
	if r, g, b, _ := img.At(80, 45).RGBA(); r|g|b != 0 { // (-0.1, 0): inside the set
		t.Errorf("a point inside the set is not black: %d %d %d", r, g, b)
	}
	if _, _, code := shmkit(t, bin, "demo", "--iter", "0"); code != 2 {
		t.Errorf("--iter 0: code %d", code)
	}
}
