package sem

// SetArriveHook makes every Barrier.Wait of this process call f between counting its arrival
// and recording it, so a test can kill a party exactly there.
func SetArriveHook(f func()) { arriveHook = f }
