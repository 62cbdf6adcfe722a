// Package ring will hold shmkit's pipes and queues in shared memory: a zero-copy SPSC Pipe and
// an MPMC Queue. It is empty until the issue that builds it lands; see docs/DESIGN.md.
package ring
