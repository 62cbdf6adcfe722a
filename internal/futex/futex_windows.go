//go:build windows

package futex

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has no futex that spans processes: WaitOnAddress wakes only threads of the process
// that calls WakeByAddress. So a word's sleepers park on a named semaphore, the word's parking
// slot, named after the word's key: the segment it lives in (as the locator shm installs names
// it: the same in every process that maps it, wherever the mapping lands) and its offset there.
// A word in no segment gets a key of this process only (a salt and its address).
//
// A semaphore cannot say how many threads wait on it, so the parking lot, one small section
// every process of the session maps, counts sleepers per key (hashed into lotWords counters).
// A sleeper opens its slot, counts itself in, re-reads the word, and waits on the semaphore;
// a waker that changed the word reads the count and releases that many tokens (n at most), and
// none, with no system call, when nobody sleeps. The count and the word are each read after
// the other side's locked write (Dekker's pattern; Go's atomics are sequentially consistent),
// so either the sleeper sees the new value or the waker sees the sleeper and releases a token,
// which the semaphore keeps until it is taken: no wake-up is lost between check and sleep. A
// sleeper that is killed leaves its count behind, and a token that finds nobody (its sleeper
// timed out) stays: both cost later sleepers on keys of that counter spurious wake-ups (they
// re-check and sleep again), never a lost one, and parkMaxTokens bounds how many pile up.

const (
	lotName        = `Local\shmkit-park-lot-v1`
	lotWords       = 1 << 14 // 64 KiB of sleeper counts
	parkMaxTokens  = 4096
	maxWaitObjects = 64 // MAXIMUM_WAIT_OBJECTS
)

var (
	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procCreateSemaphoreW = kernel32.NewProc("CreateSemaphoreW")
	procReleaseSemaphore = kernel32.NewProc("ReleaseSemaphore")
)

// The locator, set by package shm: the segment identity and offset of a word, if it is in one.
var locator atomic.Pointer[func(addr uintptr) (id, off uint64, ok bool)]

// SetLocator installs locate, which names the segment (an identity the same in every process)
// and the offset of a word in shared memory. Package shm installs it on Windows; without it
// every word is keyed to this process alone.
func SetLocator(locate func(addr uintptr) (id, off uint64, ok bool)) { locator.Store(&locate) }

// salt keys the words of this process that are in no segment.
var salt = func() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}()

// keyOf returns the parking key of addr, and the segment identity it belongs to (salt for a
// word in no segment).
func keyOf(addr *uint32) (key, id uint64) {
	a := uintptr(unsafe.Pointer(addr))
	if l := locator.Load(); l != nil {
		if id, off, ok := (*l)(a); ok {
			return mix(id, off), id
		}
	}
	return mix(salt, uint64(a)), salt
}

// mix is a 64-bit finaliser (splitmix64's) of id and off: keys spread over the lot's counters.
func mix(id, off uint64) uint64 {
	z := id ^ (off+0x9e3779b97f4a7c15)*0xbf58476d1ce4e5b9
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// The parking lot: sleeper counts, mapped once and kept for the life of the process.
var lot struct {
	once  sync.Once
	words []uint32
	err   error
}

func sleepers(key uint64) (*uint32, error) {
	lot.once.Do(func() {
		name, _ := windows.UTF16PtrFromString(lotName)
		h, err := windows.CreateFileMapping(windows.InvalidHandle, nil, windows.PAGE_READWRITE, 0, lotWords*4, name)
		if h == 0 {
			lot.err = fmt.Errorf("futex: parking lot: %w", err)
			return
		}
		// The handle stays open for the life of the process: on Windows the view would keep
		// the section and its name alive, but under wine the name goes with the last handle.
		addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, 0, 0, lotWords*4)
		if err != nil {
			_ = windows.CloseHandle(h)
			lot.err = fmt.Errorf("futex: parking lot: %w", err)
			return
		}
		// Sound: addr is the base of a view of lotWords words that is never unmapped.
		lot.words = unsafe.Slice((*uint32)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), lotWords)
	})
	if lot.err != nil {
		return nil, lot.err
	}
	return &lot.words[key%lotWords], nil
}

// A slot is this process's handle to one key's semaphore, shared by its goroutines: refs
// counts the calls using it, and one whose segment was forgotten, or whose word is in no
// segment, is closed by the last.
type slot struct {
	h    windows.Handle
	key  uint64
	id   uint64
	refs int
	gone bool
}

var slots struct {
	sync.Mutex
	m map[uint64]*slot
}

func acquire(key, id uint64) (*slot, error) {
	slots.Lock()
	defer slots.Unlock()
	if s := slots.m[key]; s != nil {
		s.refs++
		return s, nil
	}
	name, _ := windows.UTF16PtrFromString(fmt.Sprintf(`Local\shmkit-park-%016x`, key))
	r, _, err := procCreateSemaphoreW.Call(0, 0, parkMaxTokens, uintptr(unsafe.Pointer(name)))
	if r == 0 { // CreateSemaphore opens the semaphore if the name exists
		return nil, fmt.Errorf("futex: parking slot: %w", err)
	}
	if slots.m == nil {
		slots.m = make(map[uint64]*slot)
	}
	s := &slot{h: windows.Handle(r), key: key, id: id, refs: 1}
	slots.m[key] = s
	return s, nil
}

func (s *slot) release() {
	slots.Lock()
	defer slots.Unlock()
	s.refs--
	if s.refs > 0 {
		return
	}
	if s.id == salt && !s.gone {
		// A word in no segment (a ring.Wait's bell, new each call) is not slept on again once
		// its calls end: keeping its handle would keep one per word for ever. A sleeper holds
		// its own handle, so a token released to it outlives this one.
		s.gone = true
		delete(slots.m, s.key)
	}
	if s.gone {
		_ = windows.CloseHandle(s.h)
	}
}

// Forget closes this process's parking slots for the segment id, which it no longer maps
// (package shm calls it when it unmaps one); a slot in use closes when its last call ends.
func Forget(id uint64) {
	slots.Lock()
	defer slots.Unlock()
	for k, s := range slots.m {
		if s.id != id {
			continue
		}
		delete(slots.m, k)
		s.gone = true
		if s.refs == 0 {
			_ = windows.CloseHandle(s.h)
		}
	}
}

// millis turns a deadline into WaitForMultipleObjects' timeout, rounded up (a wait that ends a
// little early would return before the deadline and be taken for a wake-up).
func millis(deadline time.Time) (uint32, error) {
	if deadline.IsZero() {
		return windows.INFINITE, nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return 0, ErrTimeout
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return uint32(min(ms, windows.INFINITE-1)), nil
}

func wait(addr *uint32, val uint32, deadline time.Time) error {
	return waitAny([]*uint32{addr}, []uint32{val}, deadline)
}

func waitAny(words []*uint32, vals []uint32, deadline time.Time) error {
	if len(words) > maxWaitObjects {
		return pollAny(words, vals, deadline)
	}
	ms, err := millis(deadline)
	if err != nil {
		return err
	}
	handles := make([]windows.Handle, 0, len(words))
	keys := make([]uint64, 0, len(words))
	for _, w := range words {
		key, id := keyOf(w)
		if slices.Contains(keys, key) {
			continue // the same word twice: one handle (WaitForMultipleObjects takes no copies)
		}
		keys = append(keys, key)
		c, err := sleepers(key)
		if err != nil {
			return pollAny(words, vals, deadline)
		}
		s, err := acquire(key, id)
		if err != nil {
			return pollAny(words, vals, deadline)
		}
		defer s.release()
		atomic.AddUint32(c, 1) // counted in before the last look at the word
		defer atomic.AddUint32(c, math.MaxUint32)
		handles = append(handles, s.h)
	}
	for i, w := range words {
		if atomic.LoadUint32(w) != vals[i] {
			return nil
		}
	}
	r, err := windows.WaitForMultipleObjects(handles, false, ms)
	switch {
	case r >= windows.WAIT_OBJECT_0 && r < windows.WAIT_OBJECT_0+uint32(len(handles)):
		return nil
	case r == uint32(windows.WAIT_TIMEOUT):
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return ErrTimeout
		}
		return nil
	default:
		return fmt.Errorf("futex: WaitForMultipleObjects: %w", err)
	}
}

func wake(addr *uint32, n int) int {
	key, id := keyOf(addr)
	c, err := sleepers(key)
	if err != nil {
		return 0
	}
	k := int(atomic.LoadUint32(c))
	if k == 0 {
		return 0
	}
	if n >= 0 && n < k {
		k = n
	}
	k = min(k, parkMaxTokens)
	s, err := acquire(key, id)
	if err != nil {
		return 0
	}
	defer s.release()
	if r, _, _ := procReleaseSemaphore.Call(uintptr(s.h), uintptr(k), 0); r == 0 {
		return 0 // ERROR_TOO_MANY_POSTS: saturated, the sleepers have tokens enough to wake
	}
	return k
}
