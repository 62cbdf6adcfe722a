// Package ctypes will hold typed shared memory: Value, Array, RawArray and a shared hash Map.
// It is empty until the issue that builds it lands; see docs/DESIGN.md.
package ctypes
