//go:build windows

package futex

import (
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestParkingSlots: Wake counts the sleepers it releases (0, with no system call, when nobody
// sleeps), a word located in a segment parks by segment and offset, so two addresses of one
// word meet, and Forget closes a segment's slots.
func TestParkingSlots(t *testing.T) {
	var words [2]uint32 // two "mappings" of one segment: the same offset 0 in each
	base := [2]uintptr{uintptr(unsafe.Pointer(&words[0])), uintptr(unsafe.Pointer(&words[1]))}
	const id = 0x5eed
	prev := locator.Load()
	SetLocator(func(a uintptr) (uint64, uint64, bool) {
		for _, b := range base {
			if a == b {
				return id, 0, true
			}
		}
		return 0, 0, false
	})
	defer locator.Store(prev)

	if n := Wake(&words[1], 1); n != 0 {
		t.Fatalf("Wake with nobody asleep: %d", n)
	}
	done := make(chan error, 1)
	go func() { done <- Wait(&words[0], 0, time.Now().Add(10*time.Second)) }()
	c, err := sleepers(mix(id, 0))
	if err != nil {
		t.Fatal(err)
	}
	for atomic.LoadUint32(c) == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // into WaitForMultipleObjects
	select {
	case err := <-done:
		t.Fatalf("Wait returned before a wake: %v", err)
	default:
	}
	// Woken through the other address of the same word, as another process would.
	if n := Wake(&words[1], -1); n != 1 {
		t.Fatalf("Wake of one sleeper: %d", n)
	}
	start := time.Now()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("woken after %v", d)
	}
	if n := atomic.LoadUint32(c); n != 0 {
		t.Fatalf("%d sleepers still counted", n)
	}

	slots.Lock()
	_, cached := slots.m[mix(id, 0)]
	slots.Unlock()
	if !cached {
		t.Fatal("no parking slot cached for the word")
	}
	Forget(id)
	slots.Lock()
	_, cached = slots.m[mix(id, 0)]
	slots.Unlock()
	if cached {
		t.Fatal("Forget left the segment's slot")
	}
}

// TestWaitAnyPastHandleLimit: more words than WaitForMultipleObjects takes are polled, and a
// change to the last is still seen.
func TestWaitAnyPastHandleLimit(t *testing.T) {
	words := make([]uint32, maxWaitObjects+1)
	ptrs, vals := make([]*uint32, len(words)), make([]uint32, len(words))
	for i := range words {
		ptrs[i] = &words[i]
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		atomic.StoreUint32(&words[len(words)-1], 1)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for atomic.LoadUint32(&words[len(words)-1]) == 0 {
		if err := WaitAny(ptrs, vals, deadline); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWordInNoSegmentKeepsNoHandle: a word in no segment (ring.Wait's bell, new each call)
// leaves no parking slot behind once its waits end, or every Wait would keep a handle.
func TestWordInNoSegmentKeepsNoHandle(t *testing.T) {
	for range 3 {
		w := new(uint32)
		if err := Wait(w, 0, time.Now().Add(5*time.Millisecond)); err != ErrTimeout {
			t.Fatalf("Wait to a deadline: %v", err)
		}
		if err := Wait(w, 1, time.Time{}); err != nil { // the word differs: at once
			t.Fatal(err)
		}
		key, _ := keyOf(w)
		slots.Lock()
		_, kept := slots.m[key]
		slots.Unlock()
		if kept {
			t.Fatal("a word in no segment kept its parking slot")
		}
	}
}
