// Package ctypes is typed shared memory: a Value, an Array with its lock, a RawArray without
// one, for the numeric batch jobs Python runs on multiprocessing.Value, Array and
// sharedctypes.RawArray, and for numpy, which maps the same memory with no copy.
//
// # Values and arrays
//
//	counter, _ := ctypes.NewValue[int64](0)          // Python's Value('q', 0)
//	counter.Add(1)                                    // atomic: no lock
//	grid, _ := ctypes.NewRawArray[float64](1 << 20)   // sharedctypes.RawArray('d', 1 << 20)
//	xs := grid.Slice()                                // []float64 in shared memory
//	hist, _ := ctypes.CreateArray[uint32]("hist", 256) // Array('I', 256), named, with a lock
//	hist.Update(func(h []uint32) { h[7]++ })
//
// Each follows the module's conventions: New… anonymous, Create… named, Open… attach (with
// the element type checked: a segment of another type is ErrType, naming both), OpenOrCreate…,
// Close to detach; each travels in a procs entry's argument as it is. T must be fixed-size and
// pointer-free: numbers of fixed width, bools, fixed arrays and structs of them (int, uint and
// uintptr are refused: their size depends on the architecture); anything else is ErrInvalid
// at construction, naming the field (Particle.Tags: slice), and never checked again.
//
// Python's typecodes, for code ported from multiprocessing.Array('d', n):
//
//	'b' int8     'B' uint8     'h' int16    'H' uint16
//	'i' int32    'I' uint32    'l' int64    'L' uint64   (C long on 64-bit Linux)
//	'q' int64    'Q' uint64    'f' float32  'd' float64
//
// Manager().Namespace() is a Value of a struct.
//
// # Map
//
// A Map is the fast answer to Manager().dict(): a fixed-capacity hash table of byte keys and
// values in one segment, with no server process. Readers take no lock (a seqlock per slot);
// writers lock one of its stripes; a writer killed mid-write is repaired by the next user.
//
//	m, _ := ctypes.NewMap(ctypes.MapConfig{Capacity: 1 << 16, KeyMax: 32, ValueMax: 128})
//	m.Set([]byte("job-7"), []byte("done"))
//	v, ok, _ := m.Get([]byte("job-7"), nil)
//	pts, _ := ctypes.NewMapOf[int64, Point](ctypes.MapConfig{})   // map[int64]Point, no encoding
//
// # numpy, with no copy and no shmkit code
//
// An array segment is also a .npy file: a version 1.0 header at offset 0 (dtype and shape),
// the data 64-byte aligned after it, and shmkit's own header trailing the data where numpy
// never looks (shm.Trailer). So
//
//	np.load('/dev/shm/hist', mmap_mode='r+')
//
// is a live, writable view of the Go array, and python/shmkit.py attaches one by name through
// SharedMemory without Python's resource tracker ever unlinking it. The other way, that module's
// create(name, shape, dtype) makes a .npy file Go opens with OpenRawArray, type-checked against
// its dtype.
//
// # Caveats
//
// A Slice or Ptr is valid until Close; an array the program forgot is closed by the garbage
// collector without being unmapped (shm's GC rule), so a slice in use never dangles. Array and
// Value locks are robust: a holder that dies leaves the lock to the next locker with
// sem.ErrOwnerDead, the lock held and the data possibly half-written (Get, Set, Update, At and
// the rest then return that error without running). RawArray has no lock, as in Python.
package ctypes
