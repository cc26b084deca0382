package hub

import (
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// UserNamespace holds each user's own channel, user.<sub>: subscribable by
// that user with no claim, and by nobody else whatever their token says.
const UserNamespace = "user"

// Namespace is the policy of a group of channels: those whose name's
// first segment is the namespace's name ("chat" for "chat.123"). The zero
// value is the node's defaults: history kept, clients may publish,
// presence on.
type Namespace struct {
	// NoHistory keeps no messages for replay: they are delivered live
	// only; a client that resumes past one gets snapshot_required.
	NoHistory bool
	// RetentionAge and RetentionCount override the node's retention.
	RetentionAge   time.Duration
	RetentionCount uint64
	// BackendOnly refuses client publishes (forbidden): only the server
	// API publishes to the namespace.
	BackendOnly bool
	// NoPresence turns presence off for the namespace: no presence
	// queries, events or entries.
	NoPresence bool
	// NoTyping refuses typing notices (forbidden).
	NoTyping bool
	// MaxMessageSize bounds a publish's payload in bytes (too_large).
	// Zero means only the frame size limit applies.
	MaxMessageSize int
	// PublishRate and PublishBurst bound each connection's publishes to
	// the namespace, per second. Zero means the hub's defaults.
	PublishRate  float64
	PublishBurst int
	// SubscribeHook and PublishHook make the app backend decide, through
	// the hub's Hooks, instead of the token's channel patterns.
	SubscribeHook, PublishHook bool
	// UnsubscribeHook tells the app backend when a subscription ends.
	UnsubscribeHook bool
}

// Namespaces are the namespace policies of a node.
type Namespaces struct {
	// Default applies to channels of namespaces not in Named.
	Default Namespace
	// Named maps namespace names to their policies. Without an entry for
	// "user", user channels take Default with BackendOnly set: a user's
	// own channel is written by the app backend.
	Named map[string]Namespace
}

// Lookup returns the policy of channel's namespace.
func (n *Namespaces) Lookup(channel string) Namespace {
	name := protocol.Namespace(channel)
	if ns, ok := n.Named[name]; ok {
		return ns
	}
	if name == UserNamespace {
		ns := n.Default
		ns.BackendOnly = true
		return ns
	}
	return n.Default
}

// Retention returns the retention of channel given the node's defaults,
// for the broker.
func (n *Namespaces) Retention(channel string, nodeAge time.Duration, nodeCount uint64) herald.Retention {
	ns := n.Lookup(channel)
	if ns.NoHistory || Reserved(channel) {
		return herald.Retention{}
	}
	r := herald.Retention{Age: nodeAge, Count: nodeCount}
	if ns.RetentionAge > 0 {
		r.Age = ns.RetentionAge
	}
	if ns.RetentionCount > 0 {
		r.Count = ns.RetentionCount
	}
	return r
}

// isInbox reports whether channel is the user channel of userID.
func isInbox(channel, userID string) bool {
	return len(channel) == len(UserNamespace)+1+len(userID) &&
		channel[:len(UserNamespace)] == UserNamespace && channel[len(UserNamespace)] == '.' &&
		channel[len(UserNamespace)+1:] == userID
}
