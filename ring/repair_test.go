package ring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/internal/pidinfo"
)

func TestQueueLayout(t *testing.T) {
	var s queueShared
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"slots", unsafe.Offsetof(s.slots), 0}, {"slotSize", unsafe.Offsetof(s.slotSize), 8},
		{"shutdown", unsafe.Offsetof(s.shutdown), 16}, {"joinable", unsafe.Offsetof(s.joinable), 20},
		{"unfinished", unsafe.Offsetof(s.unfinished), 24}, {"joiners", unsafe.Offsetof(s.joiners), 28},
		{"capacity", unsafe.Offsetof(s.capacity), 32}, {"elem", unsafe.Offsetof(s.elem), 40},
		{"enq", unsafe.Offsetof(s.enq), 128}, {"deq", unsafe.Offsetof(s.deq), 256},
		{"notEmpty", unsafe.Offsetof(s.notEmpty), 384}, {"notFull", unsafe.Offsetof(s.notFull), 388},
		{"getSleeping", unsafe.Offsetof(s.getSleeping), 392}, {"putSleeping", unsafe.Offsetof(s.putSleeping), 396},
		{"members", unsafe.Offsetof(s.members), 512},
		{"sizeof", unsafe.Sizeof(s), queueSlots}, {"queueSlots", queueSlots, 4608},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.name, c.got, c.want)
		}
	}
}

// deadID returns the ID of a process that has exited.
func deadID(t *testing.T) uint32 {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	id := pidinfo.MakeID(cmd.Process.Pid, 1)
	if id.Alive() {
		t.Skip("pid reused already")
	}
	return uint32(id)
}

// A producer that claimed a slot and died before publishing it: consumers skip the slot and
// get what was put after it.
func TestQueueSkipsDeadProducersClaim(t *testing.T) {
	for _, owner := range []string{"dead", "never written"} {
		t.Run(owner, func(t *testing.T) {
			q, err := NewQueue(Capacity(8), SlotSize(8))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			pos := atomic.AddUint64(&q.sh.enq, 1) - 1 // the claim, as the dead producer made it
			if owner == "dead" {
				_, _, o, _ := q.slot(pos)
				atomic.StoreUint32(o, deadID(t))
			}
			if err := q.PutContext(t.Context(), []byte("after")); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := q.GetContext(ctx, nil)
			if err != nil || string(got) != "after" {
				t.Fatalf("%q %v", got, err)
			}
			if q.Len() != 0 {
				t.Fatalf("Len %d after the skip", q.Len())
			}
		})
	}
}

// A consumer that took a message and died before freeing its slot: producers free it.
func TestQueueFreesDeadConsumersSlot(t *testing.T) {
	q, err := NewQueue(Capacity(2), SlotSize(8))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, m := range []string{"a", "b"} {
		if err := q.PutContext(t.Context(), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	pos := atomic.AddUint64(&q.sh.deq, 1) - 1 // the dead consumer's claim of "a"
	_, _, o, _ := q.slot(pos)
	atomic.StoreUint32(o, deadID(t))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := q.PutContext(ctx, []byte("c")); err != nil {
		t.Fatalf("Put into a slot a dead consumer held: %v", err)
	}
	for _, want := range []string{"b", "c"} {
		if got, err := q.GetContext(ctx, nil); err != nil || string(got) != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	}
}

// A queue whose member table holds only live processes refuses the next attach with
// ErrTooMany, instead of leaving it untracked (and later calling it gone while it lives).
func TestQueueMembersFull(t *testing.T) {
	q, err := NewQueue(Capacity(4), SlotSize(8))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := range q.sh.members {
		if q.sh.members[i] == 0 {
			q.sh.members[i] = uint32(self) // this process, attached many times over
		}
	}
	h, err := q.ShareHandle()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attachQueue(h.Segment); !errors.Is(err, ErrTooMany) {
		t.Fatalf("attach to a full member table: %v, want ErrTooMany", err)
	}
	q.sh.members[7] = deadID(t) // a dead process's entry is reused
	if _, err := attachQueue(h.Segment); err != nil {
		t.Fatalf("attach with a dead member's entry free: %v", err)
	}
}

// A getter killed asleep leaves getSleeping set; the next Put clears it, so the Puts after it
// make no wake system call for nobody.
func TestQueueDeadSleepersFlagIsCleared(t *testing.T) {
	q, err := NewQueue(Capacity(4), SlotSize(8))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	atomic.StoreUint32(&q.sh.getSleeping, 1) // as a getter killed in its sleep leaves it
	for range 3 {
		if ok, err := q.TryPut([]byte("m")); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if atomic.LoadUint32(&q.sh.getSleeping) != 0 {
			t.Fatal("Put left the dead sleeper's flag set")
		}
	}
}

// An attachment the program forgot to Detach gives its member entry back when the garbage
// collector releases it, so a long-running process that opens a queue again and again does
// not fill the table.
func TestForgottenAttachLeavesMembers(t *testing.T) {
	q, err := CreateQueue(fmt.Sprintf("t%d-forgotten", os.Getpid()), Capacity(4), SlotSize(8))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Unlink()
	defer q.Close()
	for range 2 * QueueMembers {
		if _, err := OpenQueue(q.Segment().Name()); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if used, _ := q.members.Count(); used == 1 {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%d member entries after the forgotten attachments were collected", used)
		}
	}
}

// A reader killed asleep leaves readerSleep set, which makes the writer wake it on every
// Commit; the reader that takes the end over clears it (and likewise for the writer's flag).
func TestPipeClaimClearsDeadSleepersFlag(t *testing.T) {
	p, err := NewPipe(Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dead := deadID(t)
	atomic.StoreUint32(&p.sh.readerID, dead)
	atomic.StoreUint32(&p.sh.readerSleep, 1)
	atomic.StoreUint32(&p.sh.writerID, dead)
	atomic.StoreUint32(&p.sh.writerSleep, 1)
	if _, err := p.Reader(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Writer(); err != nil {
		t.Fatal(err)
	}
	if r, w := atomic.LoadUint32(&p.sh.readerSleep), atomic.LoadUint32(&p.sh.writerSleep); r != 0 || w != 0 {
		t.Fatalf("after the ends were taken over: readerSleep %d, writerSleep %d", r, w)
	}
}
