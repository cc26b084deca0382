// Package bare is the bare broadcast baseline of `herald bench fanout`: an
// nbio WebSocket server that does the least a fan-out can do — encode each
// publication once and write the same bytes to every connection — so that
// Herald's fan-out can be reported as a fraction of it, as BENCH.md asks.
//
// It answers just enough of protocol v1 for the load generator to run
// unchanged: auth is accepted without checking the token, every subscribe
// joins one broadcast set whatever the channel, and a publish gets the
// next seq, one encoded message frame written raw to every subscriber,
// and an ack. There is no store, no per-session queue, no permission check
// and no slow-consumer limit: that is the point.
//
// # Concurrency properties
//
// nbio runs one connection's handlers one at a time; publishes from
// different connections are serialized by a mutex so that every
// subscriber sees the same order. Server methods may be called from any
// goroutine.
package bare
