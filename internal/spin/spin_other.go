//go:build !amd64

package spin

// Pause does nothing off amd64.
func Pause() {}
