//go:build linux

package pidinfo

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// stat reads /proc/<pid>/stat: field 3 is the state, field 22 the start time in clock ticks
// since boot. Fields are counted after the last ')' since the command name may hold spaces.
func stat(pid int) (start uint64, running bool, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("pidinfo: malformed /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return 0, false, fmt.Errorf("pidinfo: short /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	state := f[0][0]
	return start, state != 'Z' && state != 'X' && state != 'x', err
}
