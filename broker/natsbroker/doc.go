// Package natsbroker is a Herald broker on NATS JetStream: several Herald
// nodes connected to the same NATS server (or cluster) share channels,
// per-channel gapless sequences, history, dedupe and presence.
//
// It needs nats-server 2.9 or newer with JetStream enabled, and uses
// nothing newer than 2.9: no per-message TTLs, atomic batches, counters
// or consumers with several filter subjects. Direct gets (2.9) serve the
// reads of single-replica streams.
//
// # Layout
//
// With the default prefix "herald":
//
//	subject  herald.<channel>            a channel's dots are subject dots
//	stream   HERALD_<namespace>          one per namespace (the channel
//	                                     name up to its first dot), made
//	                                     on first use; subjects
//	                                     herald.<ns> and herald.<ns>.>
//	bucket   herald_presence (KV)        keyToken(channel).keyToken(conn)
//	                                     -> {"userId","info","node"}
//	bucket   herald_leases (KV, TTL)     <node id>.<incarnation> -> lease
//	bucket   herald_maps (KV)            keyToken(channel).keyToken(map).
//	                                     keyToken(key) -> version(8) value
//
// A namespace is encoded for the stream name: lowercase letters, digits
// and '-' as they are, any other byte as '_' and two uppercase hex digits
// (stream names are directory names on the server, possibly on a
// case-insensitive file system). KV keys encode channel and connection
// ids the same way with '=' as the escape. A publication is one message:
// headers Herald-Seq and Herald-Time, Nats-Msg-Id for dedupe, and a
// versioned binary body with id, event, from and the payload (codec.go).
//
// # Sequences, time and dedupe
//
// JetStream's sequence is the stream's, not the channel's, so the
// channel's seq travels in the Herald-Seq header. A publish reads the
// subject's last message (or remembers it from its own previous
// publish), and publishes seq+1 with Nats-Expected-Last-Subject-Sequence
// set to that message's stream sequence; JetStream stores it only if no
// other message reached the subject meanwhile. On "wrong last sequence"
// the publish reads the head again and retries, with jitter, up to 100
// times. Publishes to one channel take turns within a node, so only
// publishes from different nodes to the same channel at the same moment
// retry. One channel takes about one publish per server round trip.
//
// Herald-Time is the publishing node's clock in milliseconds, raised to
// the previous publication's time if that is later, so it never
// decreases within a channel whatever the nodes' clocks say; ack,
// delivery and history all show the stored header.
//
// Nats-Msg-Id is a digest of channel and id, since the duplicate window
// (DedupeWindow) is per stream. A duplicate is answered with the first
// publication's seq and time, read from the stream by the sequence the
// server names. Servers differ in whether the expected-sequence check or
// the dedupe check comes first (2.9 dedupes first, 2.15 checks the
// sequence first); a retry that fails the sequence check reads the head
// and comes back with the right expectation, and is then found in the
// window, so concurrent retries on any node get the first ack.
//
// # Retention
//
// Streams have no MaxAge and no per-subject limit: either would remove a
// channel's newest message sooner or later, and with it the head, and
// the next publish would get seq 1 again. History shows what a
// channel's Retention (Count and Age, from RetentionFor) keeps, as of the
// moment it reads; RunRetention, which a node runs every minute unless
// another node did so less than a lease TTL ago, purges the rest per
// channel, keeping always the newest message and everything stored
// within the stream's duplicate window plus a minute (first acks are
// read from it, and the server rebuilds its dedupe index from it after a
// restart). A channel
// with Count 0 keeps no history: History returns none, Oldest is Head+1,
// and its messages are purged once out of the dedupe window. A stream
// that exists is used with its settings (its duplicate window too),
// except that limits which would remove heads (MaxAge, MaxMsgs, MaxBytes,
// MaxMsgsPerSubject) are lifted, with a warning.
//
// Only Herald may publish to the prefix's subjects (grant it alone the
// permission, with NATS accounts or permissions): JetStream stores
// whatever reaches a stream subject, and a message without Herald's
// headers on a channel stops publishes to it and is skipped by delivery.
//
// # Delivery
//
// A node reads each namespace it has subscribers in with one consumer on
// the namespace's stream and hands the publications of its subscribed
// channels to the event handler (see delivery.go for why not one
// consumer per channel). Subscribe returns once the namespace's consumer
// exists, starting no later than the stream's end at that moment, so
// everything stored afterwards is delivered. The node remembers the
// stream sequence after the last message it handled and makes a new
// consumer from there when the consumer's sequence skips, its heartbeats
// stop (2s apart), it disappears, or the connection comes back: that is
// how a node catches up after a cut or a server restart. Per channel the
// node keeps the last seq it delivered, drops repeats, and fills a
// missing seq from the stream before delivering what follows. A
// namespace with no subscribed channel left stops its consumer a minute
// later.
//
// # Ephemeral messages
//
// Broadcast publishes on core NATS, never into JetStream, on the subject
// <prefix>.{eph}.<namespace>.<channel>: no stream takes it in (no channel
// name holds braces, so no namespace is "{eph}"), and nothing is stored,
// sequenced or deduplicated. Each namespace reader holds a core
// subscription to <prefix>.{eph}.<namespace>.> from its start to its
// stop, and hands the messages of the channels subscribed on this node
// to HandleEphemeral; like publications, a node receives its namespaces'
// ephemeral messages of channels it has no subscriber for, and drops
// them. nats.go renews the subscriptions after a reconnect. Delivery is
// best effort: what passes while a node is cut off is lost to it, and a
// message broadcast while this node's connection is down waits in
// nats.go's reconnect buffer and goes out when it is back, or is lost
// with it.
//
// # Presence
//
// Entries are KV entries in the presence bucket; each names the lease of
// the node that wrote it. A node's lease is a key of the leases bucket,
// whose MaxAge is the PresenceTTL of the node that created the bucket,
// renewed every third of that. Presence
// lists a channel's entries with a KV watcher and returns those whose
// lease is live, removing the others (only up to the revision it read).
// Each Broker's lease key carries a random incarnation, so a node that
// restarts with the same NodeID does not revive its old entries. Close
// leaves entries and lease in place, as a crash does; they disappear
// when the lease lapses.
//
// # Maps
//
// Channel maps (herald.MapBroker) are entries of the maps bucket, one
// revision per key, each the version as 8 bytes, big-endian, then the
// value. A put reads the key and writes only over a lower version, with
// the revision it read as the expected one (KV Create or Update):
// JetStream compares and stores in one step, so of two nodes writing one
// key at once one wins and the other reads again. MapGet gets each key
// asked for, or watches the map's keys for all of them. Maps are never
// trimmed; they last as the bucket's storage does (see Durability). The
// bucket is read through its stream's leader when replicated, so that
// every node reads what any node's acked put stored.
//
// # Faults
//
// The connection reconnects by itself (every 500ms while the server is
// away). nats.go does not fail a request whose answer was lost with the
// connection; it waits for the request's context. So every request runs
// in an attempt that ends after 3s (5s for History) or when the
// connection comes back, and is then tried again within the caller's
// context: a publish with the same msg id, so that it is stored once
// whether or not the lost try was. A server restart thus costs
// publishes about the time the server takes to come back, not the
// caller's whole timeout.
//
// # Durability
//
// Publish and MapPut return once JetStream has acknowledged the message:
// the stream leader has stored it (and, with Replicas > 1, a majority of
// the replicas have it in their logs). What "stored" means is the
// server's storage setting, not this package's:
//
//   - File storage: the message is in the server's files, but nats-server
//     fsyncs them on a timer, every 2 minutes by default. An ack survives
//     a crash of the nats-server process, but not a crash of its machine
//     or a power loss: with one replica, up to the last 2 minutes of acked
//     publications may be lost. nats-server 2.10 and later can fsync
//     before every ack (jetstream { sync_interval: always }), at a cost in
//     throughput; nats-server 2.9 has no such setting (its configuration
//     parser rejects sync_interval and sync), so it always runs on the
//     2-minute timer. Replicas: 3 keeps acked publications through
//     the loss of one machine, but not through losing a majority at once
//     (a power cut of the whole cluster) unless sync_interval is always.
//   - Memory storage: nothing survives a restart of the server (or of a
//     majority of a replicated stream's servers). Nodes make the streams
//     and buckets again and go on, but the channels' seqs begin at 1
//     again and their history is gone. For tests and throwaway setups.
//
// # Concurrency properties
//
// All methods may be called concurrently. Publishes to one channel from
// one node take turns; different channels run in parallel. Each
// namespace's publications are delivered from one goroutine at a time
// (the namespace reader's), in stream order, which is seq order within a
// channel; different namespaces deliver concurrently. A namespace's
// ephemeral messages are handed over from its core subscription's one
// goroutine (nats.go's), which may run while the reader delivers
// publications of the same channel. History, Broadcast and Presence run
// on the caller's goroutine. Besides two goroutines per namespace reader
// (its own and its subscription's), two background goroutines renew the
// lease (and stop idle readers) and run retention. After Close returns
// no handler is called, no goroutine of the broker runs, and every
// method returns herald.ErrClosed.
package natsbroker
