// Package spin has the CPU's hint for a wait loop.
//
// Pause tells the core that the loop around it is waiting for another core's store (x86
// PAUSE): the loop then issues fewer loads and gives way to a hyperthread sharing its core,
// which on a guest whose two vCPUs sit on one core's two threads is the very process it waits
// for. Off amd64 it does nothing.
package spin
