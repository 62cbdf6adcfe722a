package futex

import "golang.org/x/sys/unix"

// Yield gives the calling thread's CPU to another runnable thread, of this process or another
// (sched_yield), and returns when it runs again; at once if nothing else is runnable.
func Yield() { _, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
