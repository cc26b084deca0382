package api

import (
	"log/slog"
	"math"
	"time"

	"github.com/heraldrt/herald"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes
// is zero: room for a broadcast of a large payload to 1000 channels' names
// while keeping one request's memory small.
const DefaultMaxBodyBytes = 1 << 20

// Limits of one request, from the API's contract (docs/openapi.yaml).
const (
	// MaxBroadcastChannels is the most channels one broadcast may name.
	MaxBroadcastChannels = 1000
	// MaxLimit is the largest page of history or channels.
	MaxLimit = 1000
	// DefaultLimit is the page size when a request gives none.
	DefaultLimit = 100
	// MaxCloseReason is the longest disconnect reason, in bytes: what fits
	// in a WebSocket close frame next to the code (RFC 6455, 5.5).
	MaxCloseReason = 123
)

// Config configures the server API. The zero value of each field is its
// documented default.
type Config struct {
	// Keys are the API keys accepted. Nil means that no key is valid and
	// every request but GET /api/openapi.yaml gets 401: an API with no key
	// configured is closed, not open.
	Keys *Keys
	// Version is reported by GET /api/info. Empty means "dev".
	Version string
	// Start is when the node started, for uptimeSeconds in GET /api/info.
	// Zero means when New was called.
	Start time.Time
	// MaxBodyBytes bounds a request body; a larger one gets 413
	// too_large. Zero means DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// RequestRate and RequestBurst bound the requests per second of each
	// API key (429 rate_limited past them). The backend is trusted, so
	// this is a guard against a runaway loop, not a quota. Zero
	// RequestRate means no limit; zero RequestBurst means twice the rate.
	RequestRate  float64
	RequestBurst int
	// Clock tells the time, for uptime and rate limits. Nil means the
	// system clock.
	Clock herald.Clock
	// Logger receives failures the client is not shown (internal errors).
	// Nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Keys == nil {
		c.Keys = new(Keys)
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Clock == nil {
		c.Clock = herald.SystemClock{}
	}
	if c.Start.IsZero() {
		c.Start = c.Clock.Now()
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.RequestRate > 0 && c.RequestBurst <= 0 {
		c.RequestBurst = int(min(math.Ceil(2*c.RequestRate), math.MaxInt32))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
