//go:build !linux && !darwin && !windows

package shm

import "fmt"

type file struct{}

func unsupported(op string) error { return fmt.Errorf("%w: %s", ErrNotSupported, op) }

func (f *file) fd() uintptr                            { return ^uintptr(0) }
func (f *file) exactSize() bool                        { return true }
func (f *file) size() (int64, error)                   { return 0, unsupported("size") }
func (f *file) close() error                           { return nil }
func (f *file) unlink(string) error                    { return unsupported("unlink") }
func (f *file) mmap(int, bool) ([]byte, error)         { return nil, unsupported("mmap") }
func unmap([]byte) error                               { return nil }
func createFile(string, int64, *config) (*file, error) { return nil, unsupported("create") }
func anonymousFile(int64) (*file, error)               { return nil, unsupported("anonymous") }
func openFile(string) (*file, bool, error)             { return nil, false, unsupported("open") }
func fileFromFD(uintptr) (*file, error)                { return nil, unsupported("open fd") }
func removeName(string) error                          { return unsupported("remove") }
func list() ([]Info, error)                            { return nil, unsupported("list") }
func stat(string) (Info, error)                        { return Info{}, unsupported("stat") }
func reclaim(ReclaimOptions) ([]Info, error)           { return nil, unsupported("reclaim") }

func (f *file) publish(string) error { return unsupported("create") }
func (f *file) discard()             {}
