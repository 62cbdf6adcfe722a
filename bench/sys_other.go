//go:build !unix

package bench

func mkfifo(string) error { return skip("no FIFOs on this system") }

func kernelRelease() string { return "" }
