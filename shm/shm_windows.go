//go:build windows

package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a segment is a section backed by the paging file (CreateFileMapping with
// INVALID_HANDLE_VALUE). There is no unlink: the section dies with its last handle, so
// Unlink is a no-op and a name is free again once every process has closed it. Sections
// cannot be enumerated, so List, Stat and Reclaim are ErrNotSupported.
type file struct {
	h      windows.Handle
	region int64
}

var procOpenFileMapping = windows.NewLazySystemDLL("kernel32.dll").NewProc("OpenFileMappingW")

func (f *file) fd() uintptr          { return uintptr(f.h) }
func (f *file) exactSize() bool      { return false } // sizes round up to whole pages
func (f *file) size() (int64, error) { return f.region, nil }
func (f *file) unlink(string) error  { return nil }

func (f *file) close() error {
	if f.h == 0 {
		return nil
	}
	h := f.h
	f.h = 0
	return windows.CloseHandle(h)
}

func (f *file) mmap(n int, _ bool) ([]byte, error) {
	addr, err := windows.MapViewOfFile(f.h, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, 0, 0, uintptr(n))
	if err != nil {
		if e := noSpace("a view", int64(n), err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("MapViewOfFile %d bytes: %w", n, err)
	}
	// Sound: addr is the base of a view of n bytes that stays mapped until unmap.
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), n), nil
}

func unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return windows.UnmapViewOfFile(uintptr(unsafe.Pointer(&b[0])))
}

// GlobalMemoryStatusEx's MEMORYSTATUSEX.
type memoryStatus struct {
	length, memoryLoad                           uint32
	totalPhys, availPhys, totalPageFile          uint64
	availPageFile, totalVirtual, availVirtual, _ uint64
}

var procGlobalMemoryStatusEx = windows.NewLazySystemDLL("kernel32.dll").NewProc("GlobalMemoryStatusEx")

// noSpace says whether a section of total bytes cannot be had: a pagefile-backed section is
// charged to the system's commit limit when it is made, and one beyond what is left of it
// fails there or, under wine, at the first view. err, from either, is ERROR_COMMITMENT_LIMIT
// or ERROR_NOT_ENOUGH_MEMORY then; nil asks before trying, and is answered only from a
// reading that makes sense (wine has been seen to report a commit limit of 0 under load).
func noSpace(what string, total int64, err error) error {
	if err != nil && err != windows.ERROR_COMMITMENT_LIMIT && err != windows.ERROR_NOT_ENOUGH_MEMORY {
		return nil
	}
	st := memoryStatus{}
	st.length = uint32(unsafe.Sizeof(st))
	r, _, _ := procGlobalMemoryStatusEx.Call(uintptr(unsafe.Pointer(&st)))
	known := r != 0 && st.totalPageFile > 0
	if err == nil && (!known || total <= 0 || uint64(total) <= st.availPageFile) {
		return nil
	}
	if !known {
		return fmt.Errorf("%w: %s needs %s: %v", ErrNoSpace, what, human(total), err)
	}
	return fmt.Errorf("%w: %s needs %s and the system can commit %s more (of %s): ask for less, or grow the paging file",
		ErrNoSpace, what, human(total), human(int64(st.availPageFile)), human(int64(st.totalPageFile)))
}

// section makes a paging-file section of total bytes, named (name not nil) or anonymous:
// ErrNoSpace, naming what, when the system cannot commit it. A name that exists comes back
// as the open section with ERROR_ALREADY_EXISTS, as CreateFileMapping returns it.
func section(what string, name *uint16, total int64) (windows.Handle, error) {
	if err := noSpace(what, total, nil); err != nil {
		return 0, err
	}
	h, err := windows.CreateFileMapping(windows.InvalidHandle, nil, windows.PAGE_READWRITE,
		uint32(total>>32), uint32(total), name)
	if h == 0 {
		if e := noSpace(what, total, err); e != nil {
			return 0, e
		}
	}
	return h, err
}

func createFile(name string, total int64, _ *config) (*file, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: ErrInvalidName}
	}
	h, err := section(fmt.Sprintf("segment %q", name), n, total)
	if h != 0 && err == windows.ERROR_ALREADY_EXISTS {
		_ = windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "create", Path: name, Err: ErrExist}
	}
	if h == 0 {
		if errors.Is(err, ErrNoSpace) {
			return nil, err
		}
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	return &file{h: h, region: total}, nil
}

func anonymousFile(total int64) (*file, error) {
	h, err := section("an anonymous segment", nil, total)
	if h == 0 {
		if errors.Is(err, ErrNoSpace) {
			return nil, err
		}
		return nil, fmt.Errorf("shm: anonymous segment: %w", err)
	}
	return &file{h: h, region: total}, nil
}

func openFile(name string) (*file, bool, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: name, Err: ErrInvalidName}
	}
	r, _, e := procOpenFileMapping.Call(uintptr(windows.FILE_MAP_READ|windows.FILE_MAP_WRITE), 0, uintptr(unsafe.Pointer(n)))
	if r == 0 {
		if e == windows.ERROR_FILE_NOT_FOUND {
			e = ErrNotExist
		}
		return nil, false, &fs.PathError{Op: "open", Path: name, Err: e}
	}
	f := &file{h: windows.Handle(r)}
	if err := f.querySize(); err != nil {
		_ = f.close()
		return nil, false, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, false, nil
}

func fileFromFD(fd uintptr) (*file, error) {
	f := &file{h: windows.Handle(fd)}
	if err := f.querySize(); err != nil {
		_ = f.close()
		return nil, err
	}
	return f, nil
}

// querySize maps the whole section once to learn its (page-rounded) size.
func (f *file) querySize() error {
	addr, err := windows.MapViewOfFile(f.h, windows.FILE_MAP_READ, 0, 0, 0)
	if err != nil {
		return err
	}
	defer windows.UnmapViewOfFile(addr)
	var mbi windows.MemoryBasicInformation
	if err := windows.VirtualQuery(addr, &mbi, unsafe.Sizeof(mbi)); err != nil {
		return err
	}
	f.region = int64(mbi.RegionSize)
	return nil
}

func removeName(name string) error {
	return &fs.PathError{Op: "remove", Path: name, Err: fmt.Errorf("%w: Windows sections have no unlink", ErrNotSupported)}
}

func list() ([]Info, error) { return nil, fmt.Errorf("%w: sections cannot be listed", ErrNotSupported) }
func stat(string) (Info, error) {
	return Info{}, fmt.Errorf("%w: sections cannot be inspected", ErrNotSupported)
}
func reclaim(ReclaimOptions) ([]Info, error) {
	return nil, fmt.Errorf("%w: sections die with their last handle", ErrNotSupported)
}

// publish: a section gets its name at CreateFileMapping; there is nothing to link.
func (f *file) publish(string) error { return nil }
func (f *file) discard()             {}
