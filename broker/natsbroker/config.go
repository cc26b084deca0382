package natsbroker

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
)

// Config configures a Broker. The zero value of each field is its
// documented default.
type Config struct {
	// URL is the server to connect to, nats://host:port; several are
	// separated by commas. Credentials in the URL are used
	// (nats://user:pass@host:4222). Empty means nats://127.0.0.1:4222.
	URL string
	// Prefix is the first token of every subject and the start of every
	// stream and bucket name the broker uses, so that several Herald
	// deployments can share one server: 1 to 32 of [A-Za-z0-9_-]. Empty
	// means "herald". Prefixes that differ only in case would share
	// stream names; the broker refuses a stream whose subjects are not
	// its own.
	Prefix string
	// NodeID names this node in presence leases. Empty means a random
	// id. Each Broker adds a random incarnation to it, so a restarted
	// node never revives the entries of its previous run.
	NodeID string
	// Replicas is the replication factor of streams and buckets. Zero
	// means 1.
	Replicas int
	// Storage is "file" or "memory". Empty means "file".
	Storage string
	// RetentionCount keeps at most this many publications per channel
	// in history. Zero means 100,000.
	RetentionCount uint64
	// RetentionAge drops publications older than this from history.
	// Zero means 72h.
	RetentionAge time.Duration
	// RetentionFor, when set, gives each channel's retention instead of
	// RetentionAge and RetentionCount. A Count of zero keeps no history:
	// publications are delivered live, and seq and dedupe work, but
	// History returns none.
	RetentionFor func(channel string) herald.Retention
	// DedupeWindow is how long a publication id is remembered: the
	// duplicate window of the streams this node creates (a stream that
	// exists keeps its own; the broker logs a warning if it differs).
	// Zero means 10 minutes.
	DedupeWindow time.Duration
	// PresenceTTL is how long a node's presence entries outlive it: the
	// TTL of the lease bucket, which the node creating it sets (the
	// others use the bucket's, and log a warning if theirs differs). A
	// node renews its lease every third of it. Zero means 30s.
	PresenceTTL time.Duration
	// Logger receives the broker's logs. Nil means slog.Default().
	Logger *slog.Logger

	// retentionInterval is how often a node tries to run retention. Zero
	// means 1 minute. Unexported: tests shorten it.
	retentionInterval time.Duration
	// skewMargin is how long past the dedupe window retention keeps a
	// publication physically, so that clocks of nodes and servers that
	// disagree a little never drop what the server still dedupes
	// against. Zero means 1 minute.
	skewMargin time.Duration
}

const (
	defaultURL            = nats.DefaultURL
	defaultPrefix         = "herald"
	defaultRetentionCount = 100_000
	defaultRetentionAge   = 72 * time.Hour
	defaultDedupeWindow   = 10 * time.Minute
	defaultPresenceTTL    = 30 * time.Second
)

// setDefaults fills in the zero fields and checks the others.
func (c *Config) setDefaults() error {
	if c.URL == "" {
		c.URL = defaultURL
	}
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if !validPrefix(c.Prefix) {
		return fmt.Errorf("%w: %q", errBadPrefix, c.Prefix)
	}
	if c.NodeID == "" {
		c.NodeID = randomHex(8)
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	switch c.Storage {
	case "", "file", "memory":
	default:
		return fmt.Errorf("natsbroker: storage %q: want \"file\" or \"memory\"", c.Storage)
	}
	if c.Storage == "" {
		c.Storage = "file"
	}
	if c.RetentionCount == 0 {
		c.RetentionCount = defaultRetentionCount
	}
	if c.RetentionAge <= 0 {
		c.RetentionAge = defaultRetentionAge
	}
	if c.RetentionFor == nil {
		def := herald.Retention{Age: c.RetentionAge, Count: c.RetentionCount}
		c.RetentionFor = func(string) herald.Retention { return def }
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = defaultDedupeWindow
	}
	if c.DedupeWindow < 100*time.Millisecond {
		// The server refuses shorter duplicate windows.
		c.DedupeWindow = 100 * time.Millisecond
	}
	if c.PresenceTTL <= 0 {
		c.PresenceTTL = defaultPresenceTTL
	}
	if c.PresenceTTL < 100*time.Millisecond {
		c.PresenceTTL = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.retentionInterval <= 0 {
		c.retentionInterval = time.Minute
	}
	if c.skewMargin <= 0 {
		c.skewMargin = time.Minute
	}
	return nil
}

func (c *Config) storage() jetstream.StorageType {
	if c.Storage == "memory" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
