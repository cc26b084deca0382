package hub

import (
	"log/slog"
	"time"

	"github.com/heraldrt/herald"
)

// Config configures a Hub. The zero value of each field is its documented
// default.
type Config struct {
	// AuthTimeout closes a connection that has not authenticated within
	// it (close 4001). Zero means 5s.
	AuthTimeout time.Duration
	// PingInterval is how long a connection may be silent before the
	// server pings it. Zero means 25s.
	PingInterval time.Duration
	// PongTimeout is how long after a ping a silent connection is
	// considered gone and closed. Zero means 10s.
	PongTimeout time.Duration
	// TokenExpiryWarning is how long before its token expires a session
	// is sent token_expiring. Zero means 60s.
	TokenExpiryWarning time.Duration
	// MaxQueueBytes bounds what a session may have written but not yet
	// taken by the client; past it the session is closed with 4008 (slow
	// consumer). Zero means 1 MiB.
	MaxQueueBytes int
	// ReplayPage is how many publications a replay reads per history
	// call. Zero means 500.
	ReplayPage int
	// ReplayStall is how long a replay waits for a client to take what
	// was queued before declaring it a slow consumer. Zero means 30s.
	ReplayStall time.Duration
	// CloseGrace is how long a closing connection may take to flush its
	// close frame before it is cut. Zero means 5s.
	CloseGrace time.Duration
	// SweepInterval is how often heartbeats, auth deadlines and token
	// expiry are checked. Zero means 1s.
	SweepInterval time.Duration
	// TokenExpiryGrace is how long after its token expired a connection
	// that did not refresh is closed with 4001. Zero means 5s.
	TokenExpiryGrace time.Duration

	// Namespaces are the channel policies; the zero value gives every
	// namespace the defaults.
	Namespaces Namespaces
	// Hooks, when set, let the app backend decide and observe (webhooks).
	Hooks Hooks
	// ConnectHook asks Hooks.Connect before a first auth_ok.
	ConnectHook bool
	// DisconnectHook tells Hooks.Disconnected when an authenticated
	// connection ends.
	DisconnectHook bool
	// HookTimeout bounds one hook decision. Zero means 3s.
	HookTimeout time.Duration

	// MaxFrameRate and MaxFrameBurst bound the frames a connection sends
	// per second (a batch counts each frame). Frames past them get
	// rate_limited; a client that keeps on is closed with 4029. Zero
	// means 1000/s with a burst of 2000: far above what an app's client
	// sends, well below a flood.
	MaxFrameRate  float64
	MaxFrameBurst int
	// PublishRate and PublishBurst are each connection's default publish
	// limits per namespace, per second (rate_limited past them). Zero
	// means 1000/s with a burst of 2000, which suits backends that publish
	// over WebSocket; set a namespace's own limits for end users (a chat
	// user rarely needs more than a few per second).
	PublishRate  float64
	PublishBurst int
	// MaxSubscriptions bounds a connection's subscriptions (too_large).
	// Zero means 1000.
	MaxSubscriptions int
	// MaxHistoryLimit bounds the limit of a history frame (too_large
	// past it); a frame without one gets protocol.DefaultHistoryLimit, or
	// this if it is lower. Zero means 1000.
	MaxHistoryLimit int
	// MaxConnectionsPerUser closes a user's further connections with 1008.
	// Zero means 100; negative means no limit.
	MaxConnectionsPerUser int
	// PresenceInterval is how often a channel's presence changes are sent
	// to the subscriptions that watch it, as one presence_diff. Zero
	// means 500ms.
	PresenceInterval time.Duration
	// PresenceMaxMembers is the most users presence lists by name; a
	// larger channel's presence is its count only. Zero means 1000.
	PresenceMaxMembers int
	// PresenceResync is how often a watched channel's presence is read
	// again in full, which drops the members of nodes that died. Zero
	// means 30s.
	PresenceResync time.Duration
	// TypingTTL is how long a typing notice lasts unless repeated. Zero
	// means 5s.
	TypingTTL time.Duration
	// TypingInterval is the least time between two of a user's typing
	// notices to a channel that are passed on. Zero means 1s.
	TypingInterval time.Duration

	// ReceiptInterval is how often the receipt positions clients report
	// are written and told to the channel: at most one receipts frame per
	// channel per node per interval. Zero means 1s.
	ReceiptInterval time.Duration

	// NodesInterval is how often the number of nodes sharing the broker
	// is read from the broker into Stats.Nodes. Zero means 5s.
	NodesInterval time.Duration
	// QueryTimeout is how long a cluster query (ClusterChannels,
	// ClusterStats) waits for the other nodes' answers, and how long a
	// node tries to send its own. Zero means 1s.
	QueryTimeout time.Duration

	// Clock tells the time. Nil means the system clock.
	Clock herald.Clock
	// Logger receives the hub's logs. Nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AuthTimeout, 5*time.Second)
	def(&c.PingInterval, 25*time.Second)
	def(&c.PongTimeout, 10*time.Second)
	def(&c.TokenExpiryWarning, 60*time.Second)
	def(&c.ReplayStall, 30*time.Second)
	def(&c.CloseGrace, 5*time.Second)
	def(&c.SweepInterval, time.Second)
	def(&c.TokenExpiryGrace, 5*time.Second)
	def(&c.HookTimeout, 3*time.Second)
	def(&c.PresenceInterval, 500*time.Millisecond)
	def(&c.PresenceResync, 30*time.Second)
	def(&c.TypingTTL, 5*time.Second)
	def(&c.TypingInterval, time.Second)
	def(&c.ReceiptInterval, time.Second)
	def(&c.NodesInterval, 5*time.Second)
	def(&c.QueryTimeout, time.Second)
	if c.PresenceMaxMembers <= 0 {
		c.PresenceMaxMembers = 1000
	}
	if c.MaxFrameRate <= 0 {
		c.MaxFrameRate = 1000
	}
	if c.MaxFrameBurst <= 0 {
		c.MaxFrameBurst = 2000
	}
	if c.PublishRate <= 0 {
		c.PublishRate = 1000
	}
	if c.PublishBurst <= 0 {
		c.PublishBurst = 2000
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 1000
	}
	if c.MaxHistoryLimit <= 0 {
		c.MaxHistoryLimit = 1000
	}
	if c.MaxConnectionsPerUser == 0 {
		c.MaxConnectionsPerUser = 100
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = 1 << 20
	}
	if c.ReplayPage <= 0 {
		c.ReplayPage = 500
	}
	if c.Clock == nil {
		c.Clock = herald.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
