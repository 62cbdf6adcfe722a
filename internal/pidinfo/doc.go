// Package pidinfo tells whether a process is alive without trusting a bare pid: a pid is paired
// with the process's start time, so a pid reused by a newer process does not count as alive.
package pidinfo
