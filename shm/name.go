package shm

import "fmt"

// MaxNameLen is the longest segment name accepted: macOS's shm_open limit, applied everywhere
// so that a name valid on one system is valid on all.
const MaxNameLen = 30

// ValidateName reports whether name is a valid segment name: 1 to 30 bytes of [A-Za-z0-9._-]
// that do not start with '.' or '-'. A leading '-' would read as a flag to the shmkit command
// and to most others; a leading '.' hides a file, and names the files shmkit keeps while it
// creates a segment. The error wraps ErrInvalidName and says what is wrong.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %q is %d bytes, the limit is %d", ErrInvalidName, name, len(name), MaxNameLen)
	case name[0] == '.' || name[0] == '-':
		return fmt.Errorf("%w: %q starts with %q", ErrInvalidName, name, name[0])
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has byte %#02x at %d; allowed are A-Z a-z 0-9 . _ -", ErrInvalidName, name, c, i)
		}
	}
	return nil
}
