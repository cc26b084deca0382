package herald

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Publication is one message in a channel's log.
//
// A Publication handed to [Broker.Publish] carries no Seq and no Time: the
// broker assigns both. Publications delivered to an [EventHandler] or
// returned by [Broker.History] carry them and are shared; they must be
// treated as read-only.
type Publication struct {
	// Seq is the publication's position in its channel: 1, 2, 3 …, gapless.
	Seq uint64
	// ID is the publisher's idempotency key. A publish retried with the
	// same ID on the same channel within the dedupe window is not stored
	// twice.
	ID string
	// Event is the application's own event name, such as "message.new".
	Event string
	// Payload is the message body: one JSON value, stored as given.
	Payload []byte
	// Time is server time in milliseconds since the Unix epoch. Within a
	// channel it never decreases with Seq.
	Time int64
	// From is the user id of the publisher ("" for the server API).
	From string
	// Op, when set, makes the publication an op entry: a change to the
	// earlier message at seq Ref, such as an edit or a reaction (the
	// protocol package names the ops). Brokers store, deliver and return
	// op entries like any publication, each at its own seq; the hub gives
	// them their meaning.
	Op string
	// Ref is the seq of the message an op entry changes; 0 without Op.
	Ref uint64
}

// PublishResult is what a broker answers to a publish.
type PublishResult struct {
	// Seq and Time are the stored publication's.
	Seq  uint64
	Time int64
	// Duplicate reports that a publication with the same ID was already
	// stored within the dedupe window; Seq and Time are the first one's and
	// nothing was stored or delivered again.
	Duplicate bool
}

// HistoryRequest selects a range of a channel's log.
type HistoryRequest struct {
	// After selects publications with Seq > After, the oldest first.
	After uint64
	// Before, when not zero, selects publications with Seq < Before
	// instead, the newest of them (still returned in Seq order): the page
	// before a known position, for paging backwards. After is then
	// ignored.
	Before uint64
	// Limit caps how many publications are returned. Zero returns none,
	// which is how a caller asks for the stream position only.
	Limit int
}

// Retention is how much of a channel's log is kept for replay and
// history.
type Retention struct {
	// Age drops publications older than this; zero keeps them whatever
	// their age.
	Age time.Duration
	// Count keeps at most this many publications; zero keeps none (the
	// channel has no history: publications are delivered live only, while
	// sequence numbers and dedupe work as always).
	Count uint64
}

// History is a range of a channel's log together with the channel's
// stream position at the time it was read.
type History struct {
	// Publications are in Seq order, gapless, all with Seq > the request's
	// After (or < its Before).
	Publications []*Publication
	// Head is the Seq of the newest publication ever stored in the channel
	// (0 if none).
	Head uint64
	// Oldest is the Seq of the oldest publication still retained. When
	// nothing is retained it is Head+1.
	Oldest uint64
}

// EventHandler receives the publications of the channels a broker was
// asked to subscribe to.
type EventHandler interface {
	// HandlePublications delivers one or more publications of one channel,
	// in Seq order. A broker calls it for a given channel from one
	// goroutine at a time, in Seq order across calls, but may call it for
	// different channels concurrently. Without a fault between them the
	// calls are gapless; after a fault (a lost connection to the broker's
	// server) a broker may skip ahead, and the handler recovers the gap
	// from History. The handler must not block for long and must not
	// modify pubs.
	HandlePublications(channel string, pubs []*Publication)
}

// Broker stores each channel's log and fans publications out to the nodes
// that subscribed to the channel.
//
// All methods may be called concurrently. Publish returns only after the
// publication is as durable as the broker promises (documented per
// broker); only then is it delivered to event handlers.
type Broker interface {
	// Start begins delivering publications to h. It is called once, before
	// Subscribe.
	Start(ctx context.Context, h EventHandler) error
	// Subscribe asks for the channel's publications to be delivered to the
	// handler. Publications stored after Subscribe returns are delivered.
	// Calls are counted: each Subscribe is undone by one Unsubscribe. A
	// broker may deliver other channels' publications too (the embedded
	// broker delivers all of them); the handler skips what it does not
	// need.
	Subscribe(ctx context.Context, channel string) error
	// Unsubscribe undoes one Subscribe.
	Unsubscribe(ctx context.Context, channel string) error
	// Publish assigns p the channel's next Seq and the server time, stores
	// it, and delivers it. p is owned by the broker after the call.
	Publish(ctx context.Context, channel string, p *Publication) (PublishResult, error)
	// History reads a range of the channel's log and its stream position.
	History(ctx context.Context, channel string, req HistoryRequest) (History, error)
	// Close stops delivery and releases the broker's resources; stored
	// publications stay stored. Other methods return ErrClosed afterwards.
	Close(ctx context.Context) error
}

// Identity is who a connection authenticated as, and what it may do.
type Identity struct {
	// UserID is the token's subject.
	UserID string
	// Channels are the patterns the user may subscribe and publish to.
	Channels []string
	// ExpiresAt is when the credential stops being valid.
	ExpiresAt time.Time
	// Info is the token's `info` claim, shown to others in presence; nil
	// if absent.
	Info json.RawMessage
}

// Clock tells the time. The hub and brokers take one so that tests can
// control it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the [Clock] of the running system.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Errors shared by brokers and the hub.
var (
	// ErrClosed is returned by a broker or hub that has been closed.
	ErrClosed = errors.New("herald: closed")
	// ErrTokenExpired is returned by an Authenticator for a token past its
	// expiry.
	ErrTokenExpired = errors.New("herald: token expired")
)

// Authenticator verifies the token a client presents.
type Authenticator interface {
	// Authenticate returns the identity the token proves, or an error
	// whose message may be shown to the client (it names what was wrong
	// with the token, never a key). It may be called concurrently.
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// BatchPublisher is a Broker that can take several publishes at once. The
// publishes are stored in the order given (for each channel, in that
// order relative to each other), so a client's pipelined publishes keep
// their order while sharing one commit. The hub uses it when a client
// sends a batch frame of publishes.
type BatchPublisher interface {
	// PublishBatch publishes each request as Publish would and returns one
	// response per request, in order. It may be called concurrently.
	PublishBatch(ctx context.Context, reqs []PublishRequest) []PublishResponse
}

// PublishRequest is one publish of a batch.
type PublishRequest struct {
	Channel     string
	Publication *Publication
}

// PublishResponse answers one PublishRequest.
type PublishResponse struct {
	PublishResult
	Err error
}

// PresenceEntry is one connection's presence in a channel.
type PresenceEntry struct {
	// ConnectionID identifies the connection, unique across nodes.
	ConnectionID string
	// UserID is the connection's user.
	UserID string
	// Info is the user's token info claim, or nil.
	Info json.RawMessage
}

// PresenceBroker is a Broker that keeps presence: which connections are
// in which channel, on every node that shares the broker. Entries belong
// to the node (the broker instance) that added them; a node that stops
// without removing its entries (a crash, a lost network) has them dropped
// once its lease, which the broker renews while it runs, lapses.
//
// All methods may be called concurrently. For one channel and connection,
// the effects of calls made one after the other by the same caller apply
// in that order.
type PresenceBroker interface {
	// AddPresence records e in channel, replacing an entry with the same
	// ConnectionID.
	AddPresence(ctx context.Context, channel string, e PresenceEntry) error
	// RemovePresence removes the connection's entry from channel; removing
	// an absent entry is not an error.
	RemovePresence(ctx context.Context, channel, connectionID string) error
	// Presence returns the channel's entries, of nodes whose lease is
	// live, in no particular order.
	Presence(ctx context.Context, channel string) ([]PresenceEntry, error)
	// DropPresence ends this node's lease at once, so that every entry it
	// added stops counting everywhere, as a node leaving cleanly should:
	// a draining node calls it instead of removing its entries one by
	// one. Afterwards AddPresence fails with ErrClosed.
	DropPresence(ctx context.Context) error
}

// Broadcaster is a Broker that delivers ephemeral messages: typing
// notices, presence changes and read-position updates, which are live
// only. An ephemeral message gets no Seq, is never stored, never replayed
// and never deduplicated.
type Broadcaster interface {
	// Broadcast delivers data to the [EphemeralHandler] of every node
	// subscribed to channel, this one included, at most once. Delivery is
	// best effort: a node cut off from the broker's server at the time
	// misses it, and there is no order between ephemeral messages and
	// publications.
	Broadcast(ctx context.Context, channel string, data []byte) error
}

// EphemeralHandler is an [EventHandler] that also takes the ephemeral
// messages of a [Broadcaster]. The broker calls it for the channels it
// was asked to subscribe to; the rules of HandlePublications apply, but
// for order, which ephemeral messages do not have across nodes.
type EphemeralHandler interface {
	HandleEphemeral(channel string, data []byte)
}

// MapEntry is one key of a channel map.
type MapEntry struct {
	Key string
	// Version orders the writes of a key; a write only replaces a lower
	// version.
	Version uint64
	Value   []byte
}

// MapBroker is a Broker that keeps small durable maps per channel,
// beside its log: each user's read position, the channel's state. Maps
// are named; each key holds a value and the version that wrote it, and a
// key's version only grows, so that a late or retried write never moves
// a key back. Maps are kept as durably as publications and are not
// subject to retention.
type MapBroker interface {
	// MapPut stores value under key in the channel's map name with
	// version v, unless the key holds a version >= v already. It reports
	// whether it stored the value, and the entry the key holds afterwards.
	MapPut(ctx context.Context, channel, name string, e MapEntry) (stored bool, now MapEntry, err error)
	// MapGet returns the map's entries with the given keys, or all of
	// them when keys is empty, in no particular order. Absent keys are
	// left out.
	MapGet(ctx context.Context, channel, name string, keys ...string) ([]MapEntry, error)
}
