package ctypes_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
)

// numpyPython returns a python3 that can import numpy: the first python3 on PATH may be a
// build without it (Debian's python3-numpy serves /usr/bin/python3). Under CI=true a missing
// numpy fails the test.
func numpyPython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, c := range []string{"python3", "/usr/bin/python3"} {
		py, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if exec.Command(py, "-c", "import numpy").Run() == nil {
			return py
		}
		tried = append(tried, py)
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no python3 with numpy (tried %v): .ci/run installs python3-numpy", tried)
	}
	t.Skipf("no python3 with numpy (tried %v)", tried)
	return ""
}

// runPython runs script with the repository's python/ on sys.path and returns its output.
func runPython(t *testing.T, py, script string, args ...string) string {
	t.Helper()
	dir, err := filepath.Abs("../python")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\n%s", err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// Go fills a RawArray of a million float64; Python sums it with nothing but numpy
// (np.load with mmap_mode) and through python/shmkit.py's attach, and writes into it; Go sees
// the writes: one memory, no copy either way.
func TestNumpyReadsAndWritesAGoArray(t *testing.T) {
	py := numpyPython(t)
	const n = 1 << 20
	name := testmain.Name(t)
	a, err := ctypes.CreateRawArray[float64](name, n)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := a.Slice()
	var want float64
	for i := range s {
		s[i] = float64(i % 1000)
		want += s[i]
	}
	out := runPython(t, py, `
import sys, numpy as np, shmkit
name = sys.argv[1]
plain = np.load("/dev/shm/" + name, mmap_mode="r+")   # numpy alone
view = shmkit.attach(name)                             # the helper
assert plain.dtype == np.float64 and plain.shape == (1 << 20,), (plain.dtype, plain.shape)
print(int(plain.sum()), int(view.sum()))
plain[0] = -1.0
view[1] = -2.0
plain.flush()
`, name)
	if w := fmt.Sprint(int64(want)); out != w+" "+w {
		t.Fatalf("python's sums: %q, want %v twice", out, want)
	}
	if s[0] != -1 || s[1] != -2 {
		t.Fatalf("python's writes not seen: %v %v", s[0], s[1])
	}
	if info, err := shm.Stat(name); err != nil || info.Kind != "ctypes.RawArray" {
		t.Fatalf("after numpy: %+v %v", info, err)
	}
}

// The other way: Python makes an array in shared memory with python/shmkit.py's create; Go
// opens it as a RawArray[float64], type-checked against its dtype, and the two share it.
func TestGoOpensANumpyArray(t *testing.T) {
	py := numpyPython(t)
	name := testmain.Name(t)
	runPython(t, py, `
import sys, numpy as np, shmkit
a = shmkit.create(sys.argv[1], (1000,), np.float64)
a[:] = np.arange(1000.0)
a.flush()
`, name)
	defer os.Remove(shm.Dir + "/" + name)
	a, err := ctypes.OpenRawArray[float64](name)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := a.Slice()
	if len(s) != 1000 || s[999] != 999 {
		t.Fatalf("%d elements, last %v", len(s), s[len(s)-1])
	}
	s[0] = 42
	if out := runPython(t, py, `
import sys, numpy as np
print(int(np.load("/dev/shm/" + sys.argv[1], mmap_mode="r")[0]))
`, name); out != "42" {
		t.Fatalf("python sees %q after Go's write", out)
	}
	if _, err := ctypes.OpenRawArray[int32](name); err == nil || !strings.Contains(err.Error(), "<f8") {
		t.Fatalf("a float64 .npy opened as int32: %v", err)
	}
	if err := shm.Remove(name); err != nil {
		t.Fatalf("shmkit removes what the helper made: %v", err)
	}
}
