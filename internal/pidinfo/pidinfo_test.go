package pidinfo

import (
	"os"
	"os/exec"
	"testing"
)

func TestAlive(t *testing.T) {
	pid, start := Self()
	if pid != os.Getpid() || start == 0 {
		t.Fatalf("Self = %d, %d", pid, start)
	}
	if !Alive(pid, start) || !Alive(pid, 0) {
		t.Fatal("this process is not alive")
	}
	if Alive(pid, start+1) {
		t.Fatal("a wrong start time (a reused pid) counts as alive")
	}
	if Alive(0, 0) || Alive(-1, 0) {
		t.Fatal("pid 0 or -1 counts as alive")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	if Alive(cmd.Process.Pid, 0) {
		t.Fatal("a reaped child counts as alive")
	}
}
