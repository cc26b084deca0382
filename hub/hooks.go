package hub

import (
	"context"
	"encoding/json"

	"github.com/heraldrt/herald"
)

// ClientInfo describes a connection to the app backend's hooks.
type ClientInfo struct {
	ConnectionID string
	UserID       string
	// Info is the token's info claim (nil if none).
	Info json.RawMessage
	// RemoteAddr is the client's network address as the node saw it.
	RemoteAddr string
}

// Hooks let the app backend take part: decide connects, subscribes and
// publishes (for apps that keep permissions server-side), and hear of
// disconnects and unsubscribes. Package webhook implements them over HTTP.
//
// The decision methods are called on the connection's own goroutine and
// may block up to the context's deadline; they may be called concurrently
// for different connections. An error of type *protocol.Error is the
// backend's answer and is shown to the client (forbidden: denied); any
// other error means the backend could not be asked, and the client gets
// internal. The notification methods must not block.
type Hooks interface {
	// Connect decides whether an authenticated client may connect.
	Connect(ctx context.Context, c ClientInfo) error
	// Subscribe decides a subscribe to a namespace with SubscribeHook.
	Subscribe(ctx context.Context, c ClientInfo, channel string) error
	// Publish decides a client publish to a namespace with PublishHook.
	// A non-nil payload replaces the client's (one JSON value).
	Publish(ctx context.Context, c ClientInfo, channel, event string, payload json.RawMessage) (json.RawMessage, error)
	// Disconnected reports a connection's end: the close code the client
	// saw or sent (1006 when the connection was cut without one).
	Disconnected(c ClientInfo, code int)
	// Unsubscribed reports a subscription's end: the client unsubscribed,
	// lost the channel on a token refresh, or disconnected.
	Unsubscribed(c ClientInfo, channel string)
}

// notifyUnsubscribed tells the backend of a subscription's end, for
// namespaces that asked (UnsubscribeHook).
func (h *Hub) notifyUnsubscribed(s *Session, id *herald.Identity, channel string) {
	if h.cfg.Hooks != nil && h.cfg.Namespaces.Lookup(channel).UnsubscribeHook {
		h.cfg.Hooks.Unsubscribed(s.clientInfo(id), channel)
	}
}
