// Package featuretest checks the features built on the core, presence
// events and typing among them, end to end over WebSocket, on every
// broker: the embedded one as one node, Redis and NATS as two nodes
// sharing the broker, with clients spread over both.
package featuretest
