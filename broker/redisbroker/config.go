package redisbroker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald"
)

// Config configures a Broker. The zero value of each field is its
// documented default.
type Config struct {
	// URL says where Redis is, in the form rueidis.ParseURL reads:
	//
	//	redis://[user:pass@]host:port[/db]      one server (or a cluster seed)
	//	rediss://…                              the same over TLS
	//	redis://h1:p1?addr=h2:p2&addr=h3:p3     several seeds of a Redis Cluster
	//	redis://h:p?master_set=name             Sentinel, h:p a sentinel
	//	unix:///path/to/redis.sock
	//
	// Query parameters dial_timeout, write_timeout, client_name and
	// skip_verify (rediss) are read too. Whether the server is a cluster
	// is found out on connecting. Empty means redis://127.0.0.1:6379.
	URL string
	// Prefix starts every key the broker writes, so that several Herald
	// deployments can share a server. It must not contain braces. Empty
	// means "herald".
	Prefix string
	// NodeID names this node in presence leases; it must be unique among
	// the nodes that share the server, and be letters, digits and "._:-"
	// only. Empty means a random id.
	NodeID string
	// RetentionCount keeps at most this many publications per channel.
	// Zero means 100,000.
	RetentionCount uint64
	// RetentionAge drops publications older than this. Zero means 72h.
	RetentionAge time.Duration
	// RetentionFor, when set, gives each channel's retention instead of
	// RetentionAge and RetentionCount. A Count of zero keeps no history
	// for the channel: its publications are delivered live, get sequence
	// numbers and are deduplicated, but are not stored.
	RetentionFor func(channel string) herald.Retention
	// DedupeWindow is how long a publication id is remembered. Zero means
	// 10 minutes.
	DedupeWindow time.Duration
	// PresenceTTL is the lease of this node's presence entries: it is
	// renewed every PresenceTTL/3, and entries of a node whose lease
	// lapsed are not reported. Zero means 30s.
	PresenceTTL time.Duration
	// WaitReplicas, when positive, makes a publish wait after the script
	// until at least this many replicas acknowledged it (Redis WAIT); a
	// publish that does not reach them within WaitTimeout fails with
	// ErrNotReplicated. Zero acks as soon as the primary has it.
	WaitReplicas int
	// WaitTimeout bounds the wait for replicas. Zero means 1s.
	WaitTimeout time.Duration
	// Logger receives the broker's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// ErrNotReplicated is returned by a publish that the primary stored but
// fewer than Config.WaitReplicas replicas acknowledged in time. The
// publication may survive or not; a retry with the same id is answered
// from the dedupe record and waits for the replicas again.
var ErrNotReplicated = errors.New("redisbroker: not acknowledged by enough replicas")

func (c *Config) setDefaults() error {
	if c.URL == "" {
		c.URL = "redis://127.0.0.1:6379"
	}
	if c.Prefix == "" {
		c.Prefix = "herald"
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		return fmt.Errorf("redisbroker: prefix %q contains a brace", c.Prefix)
	}
	if c.NodeID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.NodeID = hex.EncodeToString(b[:])
	}
	if !validNodeID(c.NodeID) {
		return fmt.Errorf("redisbroker: node id %q: want 1-64 letters, digits or ._:-", c.NodeID)
	}
	if c.RetentionCount == 0 {
		c.RetentionCount = 100_000
	}
	if c.RetentionAge <= 0 {
		c.RetentionAge = 72 * time.Hour
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = 10 * time.Minute
	}
	if c.PresenceTTL <= 0 {
		c.PresenceTTL = 30 * time.Second
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RetentionFor == nil {
		def := herald.Retention{Age: c.RetentionAge, Count: c.RetentionCount}
		c.RetentionFor = func(string) herald.Retention { return def }
	}
	return nil
}

func validNodeID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '_', r == ':', r == '-':
		default:
			return false
		}
	}
	return true
}

// clientOption turns the URL into rueidis options. Every connection the
// broker opens is named (CLIENT SETNAME) "herald-<node id>" unless the URL
// names it, so that operators can tell the nodes apart in CLIENT LIST.
func (c *Config) clientOption() (rueidis.ClientOption, error) {
	opt, err := rueidis.ParseURL(c.URL)
	if err != nil {
		return opt, fmt.Errorf("redisbroker: url: %w", err)
	}
	if opt.ClientName == "" {
		opt.ClientName = ClientName(c.NodeID)
	}
	// The broker reads nothing through the client-side cache; without it
	// no connection asks the server for CLIENT TRACKING.
	opt.DisableCache = true
	return opt, nil
}

// ClientName is the name (CLIENT SETNAME) of the connections of the node
// with the given id, unless its URL sets client_name.
func ClientName(nodeID string) string { return "herald-" + nodeID }
