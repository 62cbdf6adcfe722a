package prefetch

// Chunk is how many bytes a Write asks for: four 64-byte lines.
const Chunk = 256

// Write brings the lines of the Chunk bytes from addr on (the four lines of addr, addr+64,
// addr+128 and addr+192) into this CPU's cache, ready to be written (PREFETCHW). A prefetch
// never faults, whatever the address; on a CPU without PREFETCHW the instruction is a no-op.
//
//go:noescape
func Write(addr *byte)
