package shm_test

import (
	"fmt"
	"testing"

	"github.com/shmkit/shmkit/internal/testmain"
	"github.com/shmkit/shmkit/shm"
	"golang.org/x/sys/unix"
)

// Each shmkit figure stands beside its floor: the same work as bare syscalls, with no header,
// lock, space check or validation.

var sizes = []int{4 << 10, 1 << 20}

func BenchmarkCreateMapUnlink(b *testing.B) {
	for _, size := range sizes {
		b.Run(fmt.Sprintf("size=%s/impl=shmkit", kib(size)), func(b *testing.B) {
			name := testmain.Name(b)
			for b.Loop() {
				s, err := shm.Create(name, size)
				if err != nil {
					b.Fatal(err)
				}
				s.Bytes()[0] = 1
				_ = s.Unlink()
				_ = s.Close()
			}
		})
		b.Run(fmt.Sprintf("size=%s/impl=raw-syscalls", kib(size)), func(b *testing.B) {
			rawCreate(b, size, unix.Ftruncate)
		})
		b.Run(fmt.Sprintf("size=%s/impl=raw-syscalls-fallocate", kib(size)), func(b *testing.B) {
			rawCreate(b, size, func(fd int, n int64) error { return unix.Fallocate(fd, 0, 0, n) })
		})
		b.Run(fmt.Sprintf("size=%s/impl=shmkit-anonymous", kib(size)), func(b *testing.B) {
			for b.Loop() {
				s, err := shm.Anonymous(size)
				if err != nil {
					b.Fatal(err)
				}
				s.Bytes()[0] = 1
				_ = s.Close()
			}
		})
	}
}

func BenchmarkAttach(b *testing.B) {
	for _, size := range sizes {
		name := testmain.Name(b)
		s, err := shm.Create(name, size, shm.Kind("bench"), shm.Layout("bench/v1"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("size=%s/impl=shmkit", kib(size)), func(b *testing.B) {
			for b.Loop() {
				o, err := shm.Open(name, shm.Kind("bench"), shm.Layout("bench/v1"))
				if err != nil {
					b.Fatal(err)
				}
				_ = o.Bytes()[0]
				_ = o.Close()
			}
		})
		b.Run(fmt.Sprintf("size=%s/impl=raw-syscalls", kib(size)), func(b *testing.B) {
			path := shm.Dir + "/" + name
			for b.Loop() {
				fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
				if err != nil {
					b.Fatal(err)
				}
				var st unix.Stat_t
				_ = unix.Fstat(fd, &st)
				m, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
				if err != nil {
					b.Fatal(err)
				}
				_ = m[0]
				_ = unix.Munmap(m)
				_ = unix.Close(fd)
			}
		})
		_ = s.Unlink()
		_ = s.Close()
	}
}

// rawCreate is the floor under Create: create, size, map, touch, unlink, unmap, close.
func rawCreate(b *testing.B, size int, grow func(fd int, n int64) error) {
	path := shm.Dir + "/" + testmain.Name(b)
	for b.Loop() {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if err := grow(fd, int64(size)); err != nil {
			b.Fatal(err)
		}
		m, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			b.Fatal(err)
		}
		m[0] = 1
		_ = unix.Unlink(path)
		_ = unix.Munmap(m)
		_ = unix.Close(fd)
	}
}

func kib(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
