// Package sse is the HTTP fallback transport, for networks where
// WebSocket is blocked (proxies that strip Upgrade, some corporate and
// hotel networks): the server's frames flow down one Server-Sent Events
// stream (GET /sse), the client's frames go up in POST /sse/send
// requests that name the stream's session. Both halves carry the same
// JSON frames as a WebSocket; docs/PROTOCOL.md §19 gives the details.
//
// # Concurrency
//
// Each stream is written by its own request goroutine from a queue the
// hub fills without blocking (hub.Conn.Write). The frames of one session's
// POST requests are handled one request at a time, in order, so a
// session has one reader as over a WebSocket. Server methods are safe for
// concurrent use.
package sse
