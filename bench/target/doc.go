// Package target runs and watches the server under test for `herald
// bench`: a child process (normally `herald serve` on a free loopback port
// with a fresh data directory and a random key, pinned to one core with
// taskset), or a server that is already running; and it reads a process's
// resident memory and CPU time from /proc.
//
// # Concurrency properties
//
// A Server's methods may be called from any goroutine. The /proc readers
// keep no state.
package target
