package procs_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

func python3(t *testing.T) string { return testmain.Python3(t) }

// The attaching side must not let Python's resource tracker unlink a segment Python did not
// make: track=False from 3.13, and before that no registration at all.
const pyAttach = `
import os, sys
from multiprocessing import shared_memory, resource_tracker
def attach(name):
    try:
        return shared_memory.SharedMemory(name=name, track=False)
    except TypeError:
        resource_tracker.register = lambda *a, **k: None
        return shared_memory.SharedMemory(name=name)
`

// runPython runs script with seg shared as SEG and returns what it printed.
func runPython(t *testing.T, py, script string, seg *shm.Segment) string {
	t.Helper()
	cmd := procs.Command(t.Context(), py, []string{"-c", script})
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Share("SEG", seg); err != nil {
		t.Fatal(err)
	}
	p, err := cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	// A Cmd starts once, and only its Process waits for it (exec.Cmd's own Run, Wait and
	// Output are not reachable through a Cmd).
	if _, err := cmd.Start(); !errors.Is(err, procs.ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	if err := cmd.Share("LATE", seg); !errors.Is(err, procs.ErrStarted) {
		t.Errorf("Share after Start: %v, want ErrStarted", err)
	}
	if err := p.WaitContext(t.Context()); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	return out.String()
}

func TestPythonAttachesRawSegment(t *testing.T) {
	py := python3(t)
	s, err := shm.Create(testmain.Name(t), 4096, shm.Raw())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	copy(s.Bytes(), "written by go")
	script := pyAttach + `
m = attach(os.environ["SEG"])
assert m.size >= int(os.environ["SEG_SIZE"]) == 4096, (m.size, os.environ["SEG_SIZE"])
assert os.environ["SEG_OFFSET"] == "0"
sys.stdout.write(bytes(m.buf[:13]).decode())
m.buf[100:117] = b"written by python"
m.close()
`
	if out := runPython(t, py, script, s); out != "written by go" {
		t.Fatalf("python read %q", out)
	}
	if got := string(s.Bytes()[100:117]); got != "written by python" {
		t.Fatalf("go reads %q", got)
	}
	if _, err := shm.Stat(s.Name()); err != nil {
		t.Fatalf("segment gone after python exited (resource tracker?): %v", err)
	}
}

func TestCommandPassesAnonymousFD(t *testing.T) {
	py := python3(t)
	s, err := shm.Anonymous(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	script := `
import mmap, os
fd, off, size = int(os.environ["SEG_FD"]), int(os.environ["SEG_OFFSET"]), int(os.environ["SEG_SIZE"])
m = mmap.mmap(fd, off + size)
m[off:off+5] = b"hello"
m.close()
`
	runPython(t, py, script, s)
	if string(s.Bytes()[:5]) != "hello" {
		t.Fatalf("payload starts %q", s.Bytes()[:5])
	}
}
