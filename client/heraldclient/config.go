package heraldclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Config configures a Client. URL and Token are required; the zero value of
// every other field is its documented default, filled in by New.
type Config struct {
	// URL is the server's WebSocket endpoint, for example
	// "ws://127.0.0.1:8080/ws" (wss:// behind TLS).
	URL string
	// FallbackURLs are more endpoints of the same cluster (any node
	// serves any client). After a failed connection attempt or a lost
	// connection the client moves on to the next endpoint, in the order
	// URL, FallbackURLs[0], FallbackURLs[1], … and round again, so that a
	// node that died or drains does not hold its clients back. Behind a
	// load balancer, leave it empty.
	FallbackURLs []string
	// Transports are the transports to connect with, in order of
	// preference. Nil means TransportWebSocket, then TransportSSE. The
	// client sticks to the transport that last connected; an attempt
	// that fails before the server's auth_ok (the upgrade is refused, a
	// proxy eats the socket) makes the next attempt use the next
	// transport, at the same endpoint; once all failed in turn, the
	// client moves on to the next endpoint. Off the first transport, it
	// tries the first one again on every 5th attempt. Client.Transport
	// says which one is in use.
	Transports []Transport
	// SSEURL is the SSE stream endpoint of URL, for example
	// "https://chat.example.com/sse". Empty means derived from URL: ws
	// becomes http, wss https, and the last path element becomes "sse"
	// (/ws becomes /sse). FallbackURLs always derive theirs. Client frames
	// go to SSEURL + "/send".
	SSEURL string
	// Token returns the token (a JWT) to authenticate with. It is called
	// before every connection attempt, so a reconnect after close 4001
	// (token expired or rejected) always uses a fresh token, and when the
	// server sends token_expiring, in which case the new token is sent as an
	// auth frame on the same connection and no subscription is dropped. ctx
	// ends when the attempt is abandoned. It is called from the client's run
	// loop, never concurrently with itself.
	Token func(ctx context.Context) (string, error)
	// Logger receives the client's logs: connects and disconnects at Info,
	// anything unexpected at Warn or Error. Nil means slog.Default().
	Logger *slog.Logger
	// OnStateChange, if set, is called with every state change and, for
	// StateDisconnected and StateClosed, the cause. Calls come one at a time,
	// in order, from the client's run loop (or from Close), without locks
	// held; the callback must not block, since the run loop waits for it. It
	// may call the Client's methods except Close.
	OnStateChange func(state State, cause error)

	// PingInterval is how often the client sends a ping frame. Zero means
	// 20s.
	PingInterval time.Duration
	// PongTimeout is how long after a ping the client waits for anything at
	// all from the server before it treats the connection as dead, closes it
	// and reconnects. Zero means 10s.
	PongTimeout time.Duration
	// BackoffMin and BackoffMax bound the reconnect delay: the ceiling
	// starts at BackoffMin, doubles after each failed attempt up to
	// BackoffMax, and the delay is random below it (full jitter). Zero
	// means 250ms and 30s.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// BackoffReset is how long a connection must stay up for the backoff to
	// start over at BackoffMin. Zero means 5s.
	BackoffReset time.Duration
	// DialTimeout bounds one connection attempt: the Token call, the
	// WebSocket handshake and the auth exchange. Zero means 10s.
	DialTimeout time.Duration
	// WriteTimeout bounds one WebSocket write; a write that takes longer
	// closes the connection. Zero means 10s.
	WriteTimeout time.Duration

	// BufferSize is the default number of messages a Subscription holds for
	// the application (SubscribeOptions.BufferSize overrides it). Zero means
	// 1024. See "Backpressure" in the package documentation.
	BufferSize int
	// MaxFrameSize is the largest WebSocket message the client sends. It
	// must not exceed the server's max_frame_size. Publish rejects larger
	// frames with ErrTooLarge, and queued frames are coalesced into batches
	// up to this size. Zero means 64 KiB, the server's default.
	MaxFrameSize int
	// ReadLimit is the largest WebSocket message accepted from the server.
	// Zero means 16 MiB.
	ReadLimit int64

	// HTTPClient performs the WebSocket handshake and the SSE transport's
	// requests. It must not have a Timeout, which would cut the event
	// stream. Nil means a client of the package's own, whose idle
	// connections are closed by Close.
	HTTPClient *http.Client
	// Header is sent with the handshake request and every SSE request,
	// for example for a load balancer's routing.
	Header http.Header
}

// withDefaults checks cfg and returns it with defaults filled in.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		return cfg, errors.New("heraldclient: Config.URL is required")
	}
	for _, raw := range append([]string{cfg.URL}, cfg.FallbackURLs...) {
		u, err := url.Parse(raw)
		if err != nil {
			return cfg, errors.New("heraldclient: Config.URL: " + err.Error())
		}
		switch u.Scheme {
		case "ws", "wss", "http", "https":
		default:
			return cfg, fmt.Errorf("heraldclient: %q is not a ws:// or wss:// URL", raw)
		}
	}
	if cfg.SSEURL != "" {
		u, err := url.Parse(cfg.SSEURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return cfg, fmt.Errorf("heraldclient: Config.SSEURL %q is not an http:// or https:// URL", cfg.SSEURL)
		}
	}
	if cfg.Transports == nil {
		cfg.Transports = []Transport{TransportWebSocket, TransportSSE}
	}
	if len(cfg.Transports) == 0 {
		return cfg, errors.New("heraldclient: Config.Transports is empty")
	}
	seen := map[Transport]bool{}
	for _, t := range cfg.Transports {
		if t != TransportWebSocket && t != TransportSSE || seen[t] {
			return cfg, fmt.Errorf("heraldclient: Config.Transports: %v is unknown or listed twice", t)
		}
		seen[t] = true
	}
	cfg.Transports = append([]Transport(nil), cfg.Transports...)
	if cfg.Token == nil {
		return cfg, errors.New("heraldclient: Config.Token is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PingInterval, 20*time.Second)
	def(&cfg.PongTimeout, 10*time.Second)
	def(&cfg.BackoffMin, 250*time.Millisecond)
	def(&cfg.BackoffMax, 30*time.Second)
	def(&cfg.BackoffReset, 5*time.Second)
	def(&cfg.DialTimeout, 10*time.Second)
	def(&cfg.WriteTimeout, 10*time.Second)
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 1024
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = 64 << 10
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 16 << 20
	}
	return cfg, nil
}
