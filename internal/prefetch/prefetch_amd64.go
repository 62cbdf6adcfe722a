package prefetch

// Chunk is how many bytes a Write asks for: four 64-byte lines.
const Chunk = 256

// Write brings the four cache lines from addr on (addr is 256-byte aligned) into this CPU's
// cache, ready to be written (PREFETCHW). A prefetch never faults, whatever the address.
//
//go:noescape
func Write(addr *byte)
