package member

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/shmkit/shmkit/internal/pidinfo"
)

func deadID(t *testing.T) pidinfo.ID {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	id, err := IDOf(cmd.Process.Pid)
	if err == nil && id.Alive() {
		t.Skip("pid reused already")
	}
	return pidinfo.MakeID(cmd.Process.Pid, 1)
}

func TestTable(t *testing.T) {
	self, dead := pidinfo.SelfID(), deadID(t)
	tb := make(Table, 3)
	if tb.Orphaned(self) {
		t.Fatal("an empty table is orphaned: nobody died")
	}
	i, err := tb.Join(self)
	if err != nil || tb.Orphaned(self) {
		t.Fatalf("join: %d %v, orphaned %v", i, err, tb.Orphaned(self))
	}
	if err := tb.Expect(dead); err != nil { // a child that died before it attached
		t.Fatal(err)
	}
	if !tb.Orphaned(self) {
		t.Fatal("self and a dead reserved child: not orphaned")
	}
	if _, err := tb.Join(self); err != nil { // a second attach of this process
		t.Fatal(err)
	}
	if used, d := tb.Count(); used != 3 || d != 1 {
		t.Fatalf("count %d used, %d dead", used, d)
	}
	// Full of live entries but for the dead one, which Join takes over.
	if j, err := tb.Join(self); err != nil || tb[j] != uint32(self) {
		t.Fatalf("join over a dead entry: %d %v", j, err)
	}
	if _, err := tb.Join(self); !errors.Is(err, ErrFull) {
		t.Fatalf("join of a full table: %v", err)
	}
	tb.Leave(i, self)
	if tb[i] != 0 {
		t.Fatal("Leave did not free the entry")
	}
	tb.Leave(1, dead) // not dead's entry any more: nothing happens
	if tb[1] == 0 {
		t.Fatal("Leave freed another process's entry")
	}
}

func TestExpectedChildAdopts(t *testing.T) {
	self := pidinfo.SelfID()
	tb := make(Table, 4)
	if err := tb.Expect(self); err != nil {
		t.Fatal(err)
	}
	i, err := tb.Join(self)
	if err != nil || i != 0 || tb[0] != uint32(self) {
		t.Fatalf("Join did not adopt the reserved entry: %d %v %#x", i, err, tb[0])
	}
	if used, _ := tb.Count(); used != 1 {
		t.Fatalf("%d entries for one process", used)
	}
}
