// Package ws is Herald's WebSocket transport. It upgrades HTTP requests on
// the standard library's server and hands each connection to an nbio
// event loop (github.com/lesismal/nbio), so an idle connection costs a few
// hundred bytes of state and no goroutine: reads wake a poller, frames are
// handled on a shared worker pool, and writes are non-blocking.
//
// Server frames are built once per shared hub.Frame (the WebSocket header
// in front of the JSON) and coalesced: one Conn.Write of the hub becomes
// one write to the socket however many frames it carries.
//
// # Concurrency properties
//
// nbio calls a connection's handlers one at a time, in order, on its
// worker pool; the hub serializes writes under the session's lock. The
// bytes a connection holds unsent are counted with atomics from nbio's
// written-size callback, so Pending may be read from any goroutine.
package ws
