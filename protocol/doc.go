// Package protocol defines Herald's wire protocol, version 1: the frames a
// client and the server exchange over a WebSocket (or the HTTP fallback),
// their validation rules, the stable error codes and the close codes.
//
// A frame is one JSON object; a JSON array of objects is a batch of frames.
// [Decode] reads client or server frames into the union type [Frame].
// The server encodes its frames with the Append functions, which write
// exactly the fields docs/PROTOCOL.md lists, without reflection.
//
// The package imports only the standard library, so that SDKs can depend
// on it without pulling in server code.
//
// # Concurrency properties
//
// Functions here are pure: they may be called from any goroutine. A [Frame]
// is a plain value owned by whoever decoded it.
package protocol
