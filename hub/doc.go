// Package hub is Herald's core: it authenticates sessions, checks every
// subscribe and publish against the session's identity, publishes through
// the broker, fans publications out to local subscribers, and replays what
// a reconnecting client missed with no gap and no duplicate at the seam.
//
// Transports (transport/ws, and later SSE) own the network; they create a
// [Session] per connection with [Hub.NewSession], feed it the client's
// frames, and implement [Conn] to write the frames the hub queues.
//
// # Delivery
//
// A publication is encoded once into a [Frame] and the same Frame is queued
// on every subscribed session. Each subscription remembers the last seq it
// queued; a publication at or below it is dropped (a duplicate at the
// seam), one right after it is queued, and one further ahead means a gap,
// which the subscription fills from the broker's history before going on.
// While a subscription recovers (replays history after a subscribe with
// lastSeq, or fills a gap), live publications are buffered and merged in
// seq order when the replay catches up.
//
// Op entries (edits, deletes, reactions: publications with an Op that
// change the message at their Ref) are delivered live as they are. A
// replay, a history frame and [Hub.History] send each message as it
// stands instead, folding the op entries up to the head into it (fold.go)
// and sending the op entries at their own seqs too.
//
// Queued frames are written by one Conn.Write per flush: the fan-out of a
// batch of publications flushes each session it touched once, so frames
// that pile up under load leave in one write.
//
// # Concurrency properties
//
// Hub methods may be called from any goroutine. A Session's Handle* methods
// are called by its transport from one goroutine at a time (the order of
// frames is the order of calls); Touch and Closed from any goroutine.
//
// Lock order: Hub.mu, then channel.mu, then Session.mu. Conn.Write is
// called with Session.mu held and must not block or call back into the
// hub synchronously.
package hub
