// Package bench runs the scenarios of `herald bench` (see BENCH.md in the
// project's shared notes): idle connections, fan-out, chat rooms, a
// reconnect storm and presence churn, each as a Config, a Run function and
// a Report over a shared Env; fan-out, chat and presence also on a cluster
// of nodes.
//
// An Env is the server under test (one or more child `herald serve`
// processes pinned to one core, or a running server) plus one load
// generator (package loadgen) on an nbio event loop. A scenario drives
// clients through the Env, spreading them over the nodes, samples the
// server processes from /proc, and returns a Report that can be written
// as a table, as JSON and as an SVG plot (package report).
//
// Fan-out and chat share the ramp (rampRun): stamped publishes at growing
// rates until deliveries stop keeping up, a steady run at a fraction of
// that rate, and seq accounting on every subscriber. CompareNodes sets a
// cluster's run beside one node's on the same broker.
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
