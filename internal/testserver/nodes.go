package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/natsbroker"
	"github.com/heraldrt/herald/broker/redisbroker"
	"github.com/heraldrt/herald/internal/testbrokers"
)

// Brokers are the brokers that feature tests run over: the embedded one
// (a single node) and the two shared ones (several nodes).
var Brokers = []string{"embedded", "redis", "nats"}

// NodesOptions adjust StartNodes.
type NodesOptions struct {
	Options
	// PresenceTTL is the shared brokers' node lease; zero keeps their
	// default.
	PresenceTTL time.Duration
	// RetentionCount is every broker's retention by count; zero keeps
	// their default. Redis trims as it publishes, the embedded broker
	// when its retention runs, NATS once a minute.
	RetentionCount uint64
}

// Nodes are nodes sharing one broker, and that broker's server.
type Nodes struct {
	Servers []*Server
	// Redis or NATS is the broker's server, for tests that break it.
	Redis *testbrokers.RedisServer
	NATS  *testbrokers.NATS
}

// StartNodes starts n nodes over a new broker of the kind named (one of
// Brokers) on a server of its own. The embedded broker lives in one
// process, so it gives one node whatever n is; the caller reads
// len(Servers).
func StartNodes(t testing.TB, kind string, n int, opts NodesOptions) *Nodes {
	t.Helper()
	ns := &Nodes{}
	var newBroker func() herald.Broker
	prefix := randomPrefix()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch kind {
	case "embedded":
		n = 1
		if opts.RetentionCount > 0 {
			opts.Broker.RetentionCount = opts.RetentionCount
		}
	case "redis":
		ns.Redis = testbrokers.StartRedis(t)
		newBroker = func() herald.Broker {
			b, err := redisbroker.New(context.Background(), redisbroker.Config{
				URL: ns.Redis.URL(), Prefix: prefix, PresenceTTL: opts.PresenceTTL, RetentionCount: opts.RetentionCount, Logger: log,
			})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	case "nats":
		ns.NATS = testbrokers.StartNATS(t)
		newBroker = func() herald.Broker {
			b, err := natsbroker.New(context.Background(), natsbroker.Config{
				URL: ns.NATS.URL(), Prefix: prefix, PresenceTTL: opts.PresenceTTL, RetentionCount: opts.RetentionCount, Logger: log,
			})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	default:
		t.Fatalf("unknown broker %q", kind)
	}
	for i := 0; i < n; i++ {
		o := opts.Options
		if newBroker != nil {
			o.Shared = newBroker()
		}
		ns.Servers = append(ns.Servers, Start(t, o))
	}
	return ns
}

// Node returns the i-th node, cycling: tests spread clients with it
// whatever the number of nodes.
func (ns *Nodes) Node(i int) *Server { return ns.Servers[i%len(ns.Servers)] }

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}
