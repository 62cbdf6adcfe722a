//go:build !windows

package bench

// unixSocketErr: every other system the bench runs on has unix sockets.
func unixSocketErr(err error) error { return err }
