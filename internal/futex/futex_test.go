package futex

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitAny: WaitAny sleeps on several words until one is changed and woken, returns at once
// for a word that already differs, and times out at its deadline.
func TestWaitAny(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skip("only Linux's futex_waitv and Windows' parking slots sleep until a wake; elsewhere WaitAny polls every millisecond, as documented")
	}
	var a, b uint32
	words, vals := []*uint32{&a, &b}, []uint32{0, 0}
	done := make(chan error, 1)
	go func() { done <- WaitAny(words, vals, time.Now().Add(10*time.Second)) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("WaitAny returned before a wake: %v", err)
	default:
	}
	start := time.Now()
	atomic.StoreUint32(&b, 1)
	Wake(&b, 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("woken after %v", d)
	}
	if err := WaitAny(words, vals, time.Now().Add(10*time.Second)); err != nil {
		t.Fatalf("a word that differs: %v", err)
	}
	start = time.Now()
	for {
		err := WaitAny(words, []uint32{0, 1}, time.Now().Add(30*time.Millisecond))
		if errors.Is(err, ErrTimeout) {
			break
		}
		if err != nil || time.Since(start) > time.Second {
			t.Fatalf("WaitAny to a deadline: %v after %v", err, time.Since(start))
		}
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("timed out after %v, before the deadline", d)
	}
	if err := WaitAny(nil, nil, time.Time{}); err == nil {
		t.Fatal("WaitAny on no words")
	}
	if err := WaitAny(words, vals[:1], time.Time{}); err == nil {
		t.Fatal("WaitAny with a value missing")
	}
	if runtime.GOOS == "linux" {
		t.Logf("futex_waitv in use: %v", !noWaitvUsed())
	}
}
