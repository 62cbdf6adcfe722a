//go:build !unix

package procs

import (
	"context"
	"os"
	"time"
)

// Warm spares need descriptor passing over a unix socket; elsewhere every start is an exec.

const spareEntry = "procs.spare"

type spare struct{}

type spareSet struct{}

func newSpareSet(context.Context, int) *spareSet { return nil }
func (s *spareSet) fill()                        {}
func (s *spareSet) refill()                      {}
func (s *spareSet) fillAfter(time.Duration)      {}
func (s *spareSet) take() *spare                 { return nil }
func (s *spareSet) close()                       {}

func (s *spareSet) start(ctx context.Context, entryName string, args []reflectValue) (*Process, error) {
	return startEntry(ctx, entryName, nil, args...)
}

func execSpare(context.Context) (*spare, error) { return nil, ErrNotSupported }

func startIn(context.Context, *spare, string, []reflectValue) (*Process, error) {
	return nil, ErrNotSupported
}

func (sp *spare) discard() {}

func readable(*os.File) bool { return false }

func (sp *spare) handOff(context.Context, string, string, []byte, *sharer, time.Duration) (*Process, error) {
	return nil, ErrNotSupported
}

func receiveHandOff(*os.File) (string, string, []byte, []int, error) {
	return "", "", nil, nil, ErrNotSupported
}
