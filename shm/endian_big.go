//go:build armbe || arm64be || m68k || mips || mips64 || mips64p32 || ppc || ppc64 || s390 || s390x || shbe || sparc || sparc64

package shm

// Every layout shmkit keeps in shared memory (headers, lock words, ring records and slots) is
// little-endian, and parts of it are read through words of another width (a queue slot's
// length and owner are one 64-bit store; a sleeper waits on half of a 64-bit word). Rather than
// build a program that would corrupt its queues on a big-endian machine, the build stops here.
var _ = shmkit_supports_only_little_endian_targets
