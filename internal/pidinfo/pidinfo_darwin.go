//go:build darwin

package pidinfo

import "golang.org/x/sys/unix"

const szomb = 5 // p_stat of a zombie, from <sys/proc.h>

func stat(pid int) (uint64, bool, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0, false, err
	}
	if kp.Proc.P_pid != int32(pid) {
		return 0, false, unix.ESRCH
	}
	tv := kp.Proc.P_starttime
	return uint64(tv.Sec)*1e6 + uint64(tv.Usec), kp.Proc.P_stat != szomb, nil
}
