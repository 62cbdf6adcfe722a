package shm_test

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/shm"
)

func TestOpenFDValidates(t *testing.T) {
	s, err := shm.Anonymous(4096, shm.Kind("test.anon"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fd, err := dup(s.Fd())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shm.OpenFD(fd, shm.Kind("other")); !errors.Is(err, shm.ErrKind) {
		t.Fatalf("OpenFD with wrong kind: %v", err)
	}
	fd, _ = dup(s.Fd())
	o, err := shm.OpenFD(fd, shm.Kind("test.anon"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	s.Bytes()[9] = 9
	if o.Bytes()[9] != 9 {
		t.Fatal("OpenFD mapping does not share memory")
	}
}
