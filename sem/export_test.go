package sem

// SetArriveHook makes every Barrier.Wait of this process call f between counting its arrival
// and recording it, so a test can kill a party exactly there.
func SetArriveHook(f func()) { arriveHook = f }

// SetActionKey stores key as b's action, as a process of another binary could have.
func SetActionKey(b *Barrier, key uint64) { b.action = key }
