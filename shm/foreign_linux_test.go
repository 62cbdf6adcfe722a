package shm_test

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

// Remove takes only what shmkit made, and says what anything else is.
func TestRemoveRefusesForeignFiles(t *testing.T) {
	plain, fifo, link, empty := testmain.Name(t), testmain.Name(t), testmain.Name(t), testmain.Name(t)
	path := func(n string) string { return shm.Dir + "/" + n }
	if err := os.WriteFile(path(plain), []byte("a program's own data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path(empty), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path(fifo), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(path(plain), path(link)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, what string }{
		{plain, "neither a shmkit header"}, {empty, "neither a shmkit header"}, {fifo, "a FIFO"}, {link, "a symbolic link"},
	} {
		err := shm.Remove(c.name)
		if !errors.Is(err, shm.ErrBadMagic) || !strings.Contains(err.Error(), c.what) {
			t.Errorf("Remove of %s: %v, want ErrBadMagic saying %q", c.name, err, c.what)
		}
		if _, err := os.Lstat(path(c.name)); err != nil {
			t.Errorf("Remove refused %s but it is gone: %v", c.name, err)
		}
	}
	if b, _ := os.ReadFile(path(plain)); string(b) != "a program's own data" {
		t.Errorf("the foreign file changed: %q", b)
	}
	raw, err := shm.Create(testmain.Name(t), 100, shm.Raw())
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if err := shm.Remove(raw.Name()); err != nil {
		t.Errorf("Remove of a Raw segment shmkit made: %v", err)
	}
}

// python starts python3 running script with the segment's name as argv[1], and waits for it to
// print "ready".
func python(t *testing.T, script, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testmain.Python3(t), "-c", script, name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("python3 said %q, %v", line, err)
	}
	return cmd
}

// Python attaches a Raw segment with SharedMemory(name) (which keeps its fd) or maps it and
// closes the fd (as numpy.memmap and C programs may): either way, once the Go creator has
// closed it, gc must not take it from under Python, since Python holds no shmkit lock.
func TestReclaimSparesRawSegmentPythonMaps(t *testing.T) {
	for _, c := range []struct{ how, script string }{
		{"SharedMemory", `
import sys
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(sys.argv[1])
resource_tracker.unregister(shm._name, "shared_memory")  # attached, not owned
print("ready", flush=True)
sys.stdin.read()
assert bytes(shm.buf[:5]) == b"hello", bytes(shm.buf[:5])
shm.close()
`},
		{"mmap, fd closed", `
import mmap, os, sys
fd = os.open("/dev/shm/" + sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096)
os.close(fd)
print("ready", flush=True)
sys.stdin.read()
assert m[:5] == b"hello", m[:5]
`},
	} {
		t.Run(c.how, func(t *testing.T) {
			name := testmain.Name(t)
			s, err := shm.Create(name, 4096, shm.Raw())
			if err != nil {
				t.Fatal(err)
			}
			copy(s.Bytes(), "hello")
			py := python(t, c.script, name)
			s.Close() // the Go side is gone; only Python uses it now
			removed, err := shm.Reclaim(shm.ReclaimOptions{Prefix: name})
			if err != nil || len(removed) != 0 {
				t.Fatalf("Reclaim while Python maps it: removed %v, %v", removed, err)
			}
			info, err := shm.Stat(name)
			if err != nil || info.Stale || !slices.Contains(info.Attached, py.Process.Pid) {
				t.Fatalf("Stat while Python maps it: %+v %v (python is pid %d)", info, err, py.Process.Pid)
			}
		})
	}
}

// A creator killed at a random moment of Create (128 MiB, so the allocation takes a while)
// leaves either nothing or a whole, valid segment: never a file that Open calls truncated,
// that ls does not show, or that gc keeps.
func TestFaultKilledCreator(t *testing.T) {
	iterations := testmain.FaultRuns()
	var whole, none int
	for i := range iterations {
		name := testmain.Name(t)
		p, err := hold.Start(t.Context(), holdArgs{Name: name, Size: 128 << 20})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(60_000)) * time.Microsecond)
		_ = p.Kill()
		_ = p.JoinContext(t.Context())
		s, err := shm.Open(name)
		switch {
		case errors.Is(err, shm.ErrNotExist):
			none++
			if ls := listed(t, name); ls != nil {
				t.Fatalf("iteration %d: Open says no such segment, List shows %+v", i, *ls)
			}
		case err != nil:
			t.Fatalf("iteration %d: Open after the creator was killed: %v", i, err)
		default:
			whole++
			if s.Size() != 128<<20 {
				t.Fatalf("iteration %d: %d-byte payload", i, s.Size())
			}
			s.Close()
			got, err := shm.Reclaim(shm.ReclaimOptions{Prefix: name})
			if err != nil || len(got) != 1 {
				t.Fatalf("iteration %d: gc of the dead creator's whole segment: %v %v", i, got, err)
			}
		}
		if s, err := shm.Create(name, 4096); err != nil {
			t.Fatalf("iteration %d: Create of the name afterwards: %v", i, err)
		} else {
			s.Close()
			_ = s.Unlink()
		}
	}
	if left, _ := os.ReadDir(shm.Dir); slices.ContainsFunc(left, func(e os.DirEntry) bool {
		return strings.HasPrefix(e.Name(), ".shmkit-tmp-")
	}) {
		t.Error("temporary files left in " + shm.Dir)
	}
	t.Logf("%d killed before publishing (nothing left), %d after (a whole segment)", none, whole)
}

func listed(t *testing.T, name string) *shm.Info {
	t.Helper()
	all, err := shm.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range all {
		if i.Name == name {
			return &i
		}
	}
	return nil
}
