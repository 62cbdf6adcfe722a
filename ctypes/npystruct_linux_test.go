package ctypes_test

import (
	"github.com/shmkit/shmkit/ctypes"
	"github.com/shmkit/shmkit/internal/testmain"
	"testing"
)

type ptx struct {
	X   float64
	Tag [3]uint8
	N   int32
}

// A struct element with Go's padding reads in numpy as a structured dtype of the same layout.
func TestNumpyStruct(t *testing.T) {
	py := numpyPython(t)
	name := testmain.Name(t)
	a, err := ctypes.CreateRawArray[ptx](name, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Slice()[2] = ptx{1.5, [3]uint8{1, 2, 3}, -9}
	out := runPython(t, py, `
import sys, numpy as np
a = np.load("/dev/shm/" + sys.argv[1], mmap_mode="r")
print(a.dtype.itemsize, a[2]["X"], list(a[2]["Tag"]), a[2]["N"])
`, name)
	if out != "16 1.5 [1, 2, 3] -9" {
		t.Fatalf("numpy read %q", out)
	}
}
