// Package redisbroker is a Herald broker on Redis, so that several Herald
// nodes share channels: their sequences, history, dedupe records, live
// fan-out and presence. It runs on one Redis server (6.2 or later), on a
// Redis Cluster, or behind Sentinel, through the rueidis client.
//
// # Design
//
// One Lua script publishes: for each publication of one channel it looks
// up the dedupe record (a retry gets the first publication's seq and time,
// marked duplicate, and nothing is stored or sent again), takes the next
// seq, takes the time from the server's TIME (never before the channel's
// previous publication's), appends the publication to the channel's
// stream under the id "<seq>-0" (so a range of seqs is an XRANGE), writes
// the dedupe record with the dedupe window as its expiry and publishes the
// encoded publication to the channel's pub/sub channel (SPUBLISH, sharded
// pub/sub, on Redis 7 and later; PUBLISH before). Then it applies
// retention: the stream is capped at the retention count as it is
// appended to, publications older than the retention age are trimmed from
// its start, and the whole stream expires once its newest publication is
// older than the age. The head lives in its own hash and survives every
// trim, so that a channel whose history was all dropped still continues
// its sequence (History then says Oldest = Head+1). A channel with a
// retention count of zero keeps no stream at all; its seqs, dedupe and
// live delivery work as always. Redis runs a script atomically, so seqs
// are gapless across every node, and a publication is in the stream
// before any node can hear of it.
//
// A publication with an empty id has no idempotency key and is never taken
// for a duplicate (the hub gives every publication an id).
//
// A batch (PublishBatch) is one script call per channel, each carrying
// that channel's publications in order, all calls in one pipeline. The
// scripts go by EVALSHA, and by EVAL when the server has lost them.
//
// History runs a script too, which applies the channel's retention and
// then reads its head, its oldest retained seq and the range asked for, in
// one atomic step. No background job is needed: Broker.RunRetention has
// nothing to do.
//
// # Delivery
//
// Subscribe and Unsubscribe are counted per channel. The first Subscribe
// of a channel starts a goroutine that holds a (S)SUBSCRIBE to the
// channel's pub/sub channel, and returns once the server confirmed it and
// the channel's head was read: anything stored after Subscribe returns is
// delivered. The first delivery starts with whatever comes next; what was
// stored before is the hub's to read from History.
//
// For each subscribed channel the broker remembers the last seq it
// delivered. A message whose seq is not the next one is preceded by what
// the stream holds in between (an XRANGE); a message already delivered is
// dropped. When a connection breaks, rueidis resubscribes (or the
// goroutine does); each confirmation after the first queues a catch-up
// that reads the stream from the last delivered seq on. So a node that
// blinks delivers every publication, once, in order, as long as the
// stream still holds it; only what retention dropped in the meantime is
// skipped, and the hub recovers that gap from History or reports it.
//
// # Ephemeral messages
//
// Broadcast sends an ephemeral message on the channel's pub/sub channel,
// the one subscribed nodes listen to already, with a plain SPUBLISH (or
// PUBLISH): no script, no seq, nothing stored. It is the mark "!" and
// the data, which no publication notice can be taken for, since those
// start with a digit. A node queues it with the channel's publications
// and the same drainer hands it to HandleEphemeral, after the
// publications received before it. Delivery is best effort: a node whose
// connection is down when the message passes misses it, and the catch-up
// after a blink brings back publications only.
//
// Deliveries of one channel are made by one goroutine at a time, started
// when there is something to deliver, in seq order; different channels
// are delivered concurrently. A subscribed channel costs one goroutine
// (a few KB) and one subscription on the server's side, whether or not
// it is busy.
//
// # Keys
//
// Every key starts with Config.Prefix. All keys of a channel carry the
// hash tag {channel}, so that in a cluster they live in one slot, which a
// script needs, and so does its shard channel. Channel names never
// contain braces.
//
//	<prefix>:{<channel>}:m        hash: h head seq, t time of the last
//	                              publication, o time of the oldest
//	                              retained one (or earlier)
//	<prefix>:{<channel>}:s        stream: entry <seq>-0 {t: time, b: body}
//	<prefix>:{<channel>}:d:<id>   string "<seq>:<time>", expiring after the
//	                              dedupe window
//	<prefix>:{<channel>}:pr       hash: connection id -> presence record
//	<prefix>:{<channel>}:map:<n>  hash: key -> map record, for the
//	                              channel's map named n
//	<prefix>:{<channel>}:p        pub/sub channel: "<seq>:<time>:<body>",
//	                              or "!<data>" for an ephemeral message
//	<prefix>:node:<node id>       string: the node's lease epoch, expiring
//	                              after Config.PresenceTTL
//
// A body is a version byte, the publication's id, event and from, each
// with a uvarint length in front, then its payload.
//
// The head hash of a channel is kept forever: were it lost, the channel's
// seqs would start again. Run Redis with maxmemory-policy noeviction.
//
// # Maps
//
// A channel map (herald.MapBroker) is a hash in the channel's slot whose
// fields are the keys and whose values are records: the version as 8
// bytes, big-endian, then the value. MapPut is one script that compares
// the versions and writes, so it is atomic across nodes; MapGet is an
// HGETALL or an HMGET. Maps have no expiry and no retention: they are
// kept, and persisted, like the channel's head, and a put is acked on the
// terms of a publish (see Durability), WaitReplicas included.
//
// # Presence
//
// A channel's presence is a hash of connection id to a JSON record {u:
// user id, i: info, n: node id, e: epoch}. Each node holds a lease key,
// renewed every PresenceTTL/3, whose value is the node's current epoch.
// Presence reads the hash, then each node's lease (one GET per node: in a
// cluster the leases live in other slots, and no command mixes them with
// a channel's keys), returns the entries whose epoch is their node's live
// one and deletes the others (only if unchanged since read). A node that
// finds its lease gone (a blink longer than the TTL, a Redis that lost
// it) takes a new epoch and writes its entries again. Close stops the
// renewal but leaves the entries, as a crash would: they stop counting
// when the lease lapses.
//
// # Durability
//
// A publish is acknowledged when the publish script has returned: Redis
// has applied it in memory, whole (seq, stream entry, dedupe record, pub/sub
// message). What survives a failure then depends on how Redis persists:
//
//   - appendonly yes, appendfsync always: Redis writes the script's effects
//     to the append-only file and fsyncs it before it sends the reply (and
//     the pub/sub messages), so every acknowledged publication survives a
//     crash or restart of Redis or of its machine, as far as the disk
//     keeps what it fsynced. This is the setting to run Herald with.
//   - appendonly yes, appendfsync everysec: the file is fsynced once a
//     second, so a crash of the machine can lose about the last second of
//     acknowledged publications (two in the worst case). A crash of the
//     Redis process alone usually loses nothing: the write to the file
//     precedes the reply unless a slow fsync made Redis postpone it.
//   - no append-only file (RDB snapshots or nothing): a restart loses all
//     that was acknowledged since the last snapshot, and the lost seqs are
//     then given again to new publications.
//
// Redis replicates asynchronously. On a failover the new primary lacks
// what it had not received yet, whatever the persistence: those acked
// publications are lost and their seqs given again. With
// Config.WaitReplicas n, the broker sends WAIT n after the script on the
// same connection and acks only once n replicas have received the
// publication (in memory; each replica persists by its own settings); a
// publish that does not get there within WaitTimeout fails with
// ErrNotReplicated, and a retry with the same id waits again. A failover
// to one of those replicas then loses nothing acknowledged; WAIT does not
// make Redis strongly consistent, and a failover to a replica that had
// not received it still loses it. Live delivery happens when the script
// runs, before the replicas acknowledge, so another node's subscribers may
// see a publication that a failover then loses.
//
// # Concurrency properties
//
// All methods may be called concurrently. Publish, PublishBatch,
// History, Broadcast and the presence methods run on the caller's
// goroutine and share the client's pipelined connections. Each
// subscribed channel has one goroutine that holds its subscription, plus
// one that delivers while there is something to deliver: publications
// and ephemeral messages alike, so a channel's HandlePublications and
// HandleEphemeral calls never overlap. Close cancels them all, waits for
// them (and so for a handler call in progress) and closes the
// connections. Broker.subMu and a subscription's mu are never held
// together; presenceState.mu is taken before presenceState.localMu.
package redisbroker
