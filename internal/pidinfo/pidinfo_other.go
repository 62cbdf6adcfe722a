//go:build !linux && !darwin && !windows

package pidinfo

func stat(int) (uint64, bool, error) { return 0, false, ErrNotSupported }
