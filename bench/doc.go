// Package bench runs the scenarios of `herald bench` (see BENCH.md in the
// project's shared notes): idle connections and fan-out so far; chat,
// reconnect and cluster plug in the same way, as a Config, a Run function
// and a Report over a shared Env.
//
// An Env is the server under test (a child `herald serve` pinned to one
// core, or a running server) plus one load generator (package loadgen)
// on an nbio event loop. A scenario drives clients through the Env,
// samples the server process from /proc, and returns a Report that can be
// written as a table, as JSON and as an SVG plot (package report).
//
// Beside the code, `go test -bench` measures Herald's fan-out in-process
// against the bare broadcast loop of package bare, so that Herald's rate
// can be given as a ratio of it.
//
// # Concurrency properties
//
// A scenario's Run function owns its Env while it runs; one Env runs one
// scenario at a time. Progress implementations may be called from the
// event loop as well as from the Run goroutine.
package bench
