//go:build windows

package pidinfo

import "golang.org/x/sys/windows"

const stillActive = 259 // STILL_ACTIVE

func stat(pid int) (uint64, bool, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return 0, false, err
	}
	defer windows.CloseHandle(h)
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0, false, err
	}
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return 0, false, err
	}
	return uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime), code == stillActive, nil
}
