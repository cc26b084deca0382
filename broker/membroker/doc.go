// Package membroker is Herald's embedded broker: in-process fan-out over a
// durable per-channel log kept in Pebble, an embedded key-value store, in
// one directory. It needs nothing installed and is the default of
// `herald serve`.
//
// # Durability
//
// With DurabilitySync (the default) a publish is acknowledged only after
// the write-ahead log holding it has been fsynced. Publishes that arrive
// together share one fsync (group commit), so the cost of an fsync is paid
// per batch, not per message. Acked messages survive a process crash and a
// machine crash.
//
// With DurabilityNone a publish is acknowledged once Pebble has accepted
// it, before it reaches the disk; the log is fsynced every SyncInterval.
// A process crash or power loss may lose the messages acked in the last
// moments before it. Choose it only where that is acceptable.
//
// # Layout
//
// Keys (channel names never contain a zero byte):
//
//	'm' channel 0x00 seq(8, big-endian)     -> encoded publication
//	'c' channel                             -> head(8) oldest(8)
//	'd' bucket(8) channel 0x00 id           -> seq(8) time(8)
//	'k' channel 0x00 map 0x00 key           -> version(8, big-endian) value
//
// Dedupe keys live in time buckets one dedupe window wide; dropping a
// bucket is one range deletion. An id is remembered for at least one
// window and at most two.
//
// # Maps
//
// Channel maps (herald.MapBroker) live in the same store, one key per
// map key. A put goes to the committer like a publish: it compares the
// versions against what is committed and what the batch wrote before it,
// writes in the same batch, and is answered after the batch's commit, so
// with DurabilitySync a stored put has been fsynced, and with
// DurabilityNone it is as exposed as a publish. Retention never touches
// maps. MapGet reads on the caller's goroutine.
//
// # Ephemeral messages
//
// Broadcast (herald.Broadcaster) hands a copy of the message straight to
// the event handler, on the caller's goroutine: nothing is stored, no seq
// is taken, and the committer never sees it, so broadcasts and publishes
// do not wait for each other. As with publications, every channel's
// messages reach the handler, which skips those it has no subscriber
// for. Within one process nothing is lost once Broadcast returns nil.
//
// # Concurrency properties
//
// Every write (publishes, map puts, retention trims, dedupe expiry) goes
// through one committer goroutine, which assigns sequence numbers; a
// second goroutine delivers committed publications to the event handler,
// one channel batch at a time, in commit order. Reads (History, MapGet)
// run on the caller's goroutine against Pebble's consistent iterators.
// HandleEphemeral runs on the broadcasting goroutine, under one of a
// fixed set of locks chosen by the channel's hash, so that it is called
// for a channel by one goroutine at a time; it may run while
// HandlePublications runs for the same channel on the dispatcher. Close
// waits for the broadcasts in progress.
package membroker
