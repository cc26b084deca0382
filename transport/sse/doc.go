// Package sse is the HTTP fallback transport, for networks where
// WebSocket is blocked (proxies that strip Upgrade, some corporate and
// hotel networks): the server's frames flow down one Server-Sent Events
// stream (GET /sse), the client's frames go up in POST /sse/send
// requests that name the stream's session. Both halves carry the same
// JSON frames as a WebSocket; docs/PROTOCOL.md §19 gives the details.
//
// # Concurrency
//
// A stream's connection is hijacked from net/http. The hub's writes go
// to the socket from the hub's goroutine, as the WebSocket transport's
// do; what the kernel does not take at once waits in a backlog that a
// drain goroutine writes, so pending bytes are the ones the client has
// not taken. The GET request's goroutine only waits for the client to go. The frames of one session's
// POST requests are handled one request at a time, in order, so a
// session has one reader as over a WebSocket. Server methods are safe for
// concurrent use.
package sse
