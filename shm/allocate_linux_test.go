package shm

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Two creates race for the last space of a small tmpfs: both see room, and the one whose
// fallocate fails must not say the space is free, but that another create took it.
func TestRacingCreatesOnAFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v", err)
	}
	defer unix.Unmount(dir, 0)
	var arrived sync.WaitGroup
	arrived.Add(2)
	allocateHook = func() { arrived.Done(); arrived.Wait() } // both past the check, then on
	defer func() { allocateHook = nil }()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			fd, err := unix.Open(dir+"/"+string(rune('a'+i)), unix.O_RDWR|unix.O_CREAT, 0o600)
			if err != nil {
				errs[i] = err
				arrived.Done()
				return
			}
			defer unix.Close(fd)
			errs[i] = allocate(fd, "racer", 700<<10)
		})
	}
	wg.Wait()
	failed := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "another process's create took it") {
			t.Errorf("the create that lost the race: %v", err)
		}
	}
	if failed == 0 {
		t.Fatal("two 700 KiB creates both fit in a 1 MiB tmpfs")
	}
}
