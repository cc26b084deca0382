// Package loadgen is the load generator behind `herald bench`: many
// WebSocket clients speaking Herald's protocol v1 on one nbio event loop,
// so that a single core can drive tens of thousands of connections and
// hundreds of thousands of deliveries per second.
//
// Each client is an nbio client connection (no goroutine of its own).
// Connections are dialed from spread loopback source addresses
// (127.0.0.2, 127.0.0.3, …) so that large runs do not exhaust one
// address's ephemeral ports; nbio's websocket.Dialer cannot set a local
// address, so this package performs the same upgrade through
// nbhttp.ClientConn with its own dial function.
//
// Frames from the server are parsed on the event loop without a JSON
// decoder when they have the exact shape protocol.AppendMessage,
// protocol.AppendAck and the presence encoders produce (presence frames
// only as far as their channel and count); anything else goes through
// encoding/json.
//
// # Concurrency properties
//
// Handler methods run on the event loop, in order for one client and
// concurrently for different clients when there is more than one poller;
// they must not block. Client.Publish, Client.Send, Client.Unsubscribe,
// Client.Resubscribe and Client.Close may be called from any goroutine.
// Counters (Client.Subs, Engine.Stats) are atomics and may be read at any
// time.
package loadgen
