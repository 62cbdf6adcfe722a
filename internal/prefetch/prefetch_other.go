//go:build !amd64

package prefetch

// Chunk is how many bytes a Write asks for.
const Chunk = 256

// Write does nothing here.
func Write(addr *byte) {}
