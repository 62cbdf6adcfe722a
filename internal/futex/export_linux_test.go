package futex

func noWaitvUsed() bool { return noWaitv.Load() }
