// Package sem will hold shmkit's cross-process synchronisation: a wait/wake word over futexes,
// and Mutex, RMutex, Semaphore, BoundedSemaphore, Cond, Event and Barrier laid out in shared
// memory. It is empty until the issue that builds it lands; see docs/DESIGN.md.
package sem
