package shm_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/procs"
	"github.com/shmkit/shmkit/shm"
)

// inCgroup moves itself into the memory cgroup Dir, then asks for more shared memory than the
// cgroup allows, anonymous and named, and then for an amount that fits.
var inCgroup = procs.Entry("shm.inCgroup", func(ctx context.Context, a cgroupArgs) error {
	if err := os.WriteFile(a.Dir+"/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fmt.Errorf("join the cgroup: %w", err)
	}
	for _, size := range []int{1 << 30, 512 << 30} {
		s, err := shm.Anonymous(size)
		if !errors.Is(err, shm.ErrNoSpace) {
			if s != nil {
				s.Close()
			}
			return fmt.Errorf("Anonymous(%d) in a %d-byte cgroup: %v, want ErrNoSpace", size, a.Limit, err)
		}
		if !strings.Contains(err.Error(), "memory cgroup") && !strings.Contains(err.Error(), "MemAvailable") {
			return fmt.Errorf("the error does not say which limit: %v", err)
		}
	}
	if s, err := shm.Create(a.Name, 1<<30); !errors.Is(err, shm.ErrNoSpace) {
		if s != nil {
			s.Close()
			_ = s.Unlink()
		}
		return fmt.Errorf("Create of 1 GiB in a %d-byte cgroup: %v, want ErrNoSpace", a.Limit, err)
	}
	s, err := shm.Anonymous(64 << 20)
	if err != nil {
		return fmt.Errorf("64 MiB in a %d-byte cgroup: %w", a.Limit, err)
	}
	return s.Close()
})

type cgroupArgs struct {
	Dir   string
	Name  string
	Limit int64
}

// TestNoSpaceInsideMemoryCgroup: without the check, reserving 1 GiB of memfd pages inside a
// 512 MiB memory cgroup gets the process OOM-killed (exit 137), and 512 GiB outside one gets
// the OOM killer choosing a victim on the whole machine.
func TestNoSpaceInsideMemoryCgroup(t *testing.T) {
	const limit = 512 << 20
	dir, cleanup, err := makeMemoryCgroup(fmt.Sprintf("shmkit-test-%d", os.Getpid()), limit)
	if err != nil {
		t.Skipf("cannot make a memory cgroup here: %v", err)
	}
	defer cleanup()
	name := "t" + strconv.Itoa(os.Getpid()) + "-cgroup"
	defer os.Remove(shm.Dir + "/" + name)
	p, err := inCgroup.Start(t.Context(), cgroupArgs{Dir: dir, Name: name, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitContext(t.Context()); err != nil {
		t.Fatalf("%v (exit code %d)", err, p.ExitCode())
	}
}

// makeMemoryCgroup makes a child memory cgroup with the given limit, under the v1 memory
// controller or cgroup v2, and returns its directory and a function that removes it.
func makeMemoryCgroup(name string, limit int64) (string, func(), error) {
	v1, v2 := cgroupRoots()
	type try struct{ dir, file string }
	var tries []try
	if v1 != "" {
		tries = append(tries, try{v1 + "/" + name, "memory.limit_in_bytes"})
	}
	if v2 != "" {
		tries = append(tries, try{v2 + "/" + name, "memory.max"})
	}
	var errs []error
	for _, c := range tries {
		if err := os.Mkdir(c.dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.WriteFile(c.dir+"/"+c.file, []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
			_ = os.Remove(c.dir)
			errs = append(errs, err)
			continue
		}
		return c.dir, func() { _ = os.Remove(c.dir) }, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no cgroup hierarchy mounted"))
	}
	return "", nil, errors.Join(errs...)
}

// cgroupRoots finds the v1 memory controller's mount point and the cgroup2 mount point.
func cgroupRoots() (v1, v2 string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		switch {
		case tail[0] == "cgroup2":
			v2 = fields[4]
		case tail[0] == "cgroup" && strings.Contains(","+tail[2]+",", ",memory,"):
			v1 = fields[4]
		}
	}
	return v1, v2
}
