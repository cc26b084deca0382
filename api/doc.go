// Package api is Herald's server HTTP API, for app backends: publish and
// broadcast with the backend's authority, read history, presence and the
// channels in use, disconnect users, and read the node's vital signs.
//
// [New] returns an http.Handler that the server mounts at /api/. The
// endpoints, their parameters, bodies and errors are documented in
// OpenAPI 3.0 in openapi.yaml (copied to docs/openapi.yaml), which the
// handler serves at GET /api/openapi.yaml:
//
//	POST /api/publish      one message to one channel
//	POST /api/broadcast    one message to up to 1000 channels
//	GET  /api/history      a page of a channel's log, forward or backward
//	GET  /api/presence     the users subscribed to a channel on this node
//	POST /api/disconnect   close a user's or a connection's sockets
//	GET  /api/channels     the channels with subscribers on any node
//	GET  /api/info         version and uptime of this node, counters of all
//
// Channels and info ask the other nodes sharing the broker and merge
// their answers (hub.ClusterChannels, hub.ClusterStats); ?scope=node
// reads this node alone.
//
// # Authentication
//
// Every request but GET /api/openapi.yaml presents an API key, as
// "Authorization: Bearer <key>" or "X-Api-Key: <key>". Several keys may
// be valid at once, so keys rotate without downtime, and the set is
// replaced at run time with [Keys.Replace]. A missing, unknown or revoked
// key gets 401 with a WWW-Authenticate challenge. A key is the backend's
// full authority: tokens, channel patterns and backend-only namespaces do
// not apply to it, while channel names, ids and payload limits do.
//
// # Errors
//
// Every error is a JSON object {"code", "message"} whose code is one of
// the protocol's stable error codes, with the status it maps to:
// bad_request 400, unauthorized 401, forbidden 403, not_found 404,
// too_large 413, rate_limited 429, internal 500. The one exception is a
// method a path does not serve: 405 with Allow, and the code bad_request.
// Failures of the server are logged and shown to the client as internal
// with a generic message.
//
// # Concurrency properties
//
// The handler may serve any number of requests at once; it keeps no
// state of its own after [New] but a per-key rate limiter, and every hub
// method it calls may be called concurrently. [Keys] is safe for
// concurrent use: Replace swaps the whole set atomically, so a request
// sees either the old set or the new one. A publish answered 200 is
// stored (the broker's durability); a request cancelled by its client may
// or may not have been, and a retry with the same idempotencyKey settles
// it.
package api
