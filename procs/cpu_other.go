//go:build !linux

package procs

func affinityCount() int { return 0 }
func quotaCPUs() int     { return 0 }
