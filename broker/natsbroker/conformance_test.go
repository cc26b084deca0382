package natsbroker

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/brokertest"
)

// testLogger shows the broker's warnings and errors, which the suite
// does not look at, on stderr, where go test -v shows them.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func configFor(url, prefix, storage string, opts brokertest.Options) Config {
	return Config{
		URL:            url,
		Prefix:         prefix,
		Storage:        storage,
		RetentionCount: opts.RetentionCount,
		RetentionAge:   opts.RetentionAge,
		RetentionFor:   opts.RetentionFor,
		DedupeWindow:   opts.DedupeWindow,
		PresenceTTL:    opts.PresenceTTL,
		Logger:         testLogger(),
	}
}

// harness makes brokertest harnesses over one server: every New gets a
// prefix of its own and goes through a proxy that Cut breaks.
type harness struct {
	url     string // the server's
	storage string // Config.Storage
	mu      sync.Mutex
	proxies map[herald.Broker]*proxy
	prefix  map[herald.Broker]string
	// onPrefix is called with each new prefix (to clean it up).
	onPrefix func(t *testing.T, prefix string)
}

func newHarness(url string) *harness {
	return &harness{url: url, proxies: map[herald.Broker]*proxy{}, prefix: map[herald.Broker]string{}}
}

func (h *harness) open(t *testing.T, url, prefix string, opts brokertest.Options) *Broker {
	t.Helper()
	b, err := New(context.Background(), configFor(url, prefix, h.storage, opts))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func (h *harness) brokertest(restart func(t *testing.T)) brokertest.Harness {
	hs := brokertest.Harness{
		New: func(t *testing.T, opts brokertest.Options) herald.Broker {
			prefix := "t" + randomHex(6)
			if h.onPrefix != nil {
				h.onPrefix(t, prefix)
			}
			p := startProxy(t, h.url[len("nats://"):])
			b := h.open(t, p.url(), prefix, opts)
			h.mu.Lock()
			h.proxies[b], h.prefix[b] = p, prefix
			h.mu.Unlock()
			return b
		},
		// Reopen stands for a node process restarting: the data lives
		// in the server, so a new broker on the same prefix sees it.
		Reopen: func(t *testing.T, b herald.Broker, opts brokertest.Options) herald.Broker {
			h.mu.Lock()
			prefix := h.prefix[b]
			h.mu.Unlock()
			if err := b.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			nb := h.open(t, h.url, prefix, opts)
			h.mu.Lock()
			h.prefix[nb] = prefix
			h.mu.Unlock()
			return nb
		},
		Peer: func(t *testing.T, b herald.Broker, opts brokertest.Options) herald.Broker {
			h.mu.Lock()
			prefix := h.prefix[b]
			h.mu.Unlock()
			return h.open(t, h.url, prefix, opts)
		},
		Cut: func(t *testing.T, b herald.Broker) {
			h.mu.Lock()
			p := h.proxies[b]
			h.mu.Unlock()
			p.cut()
		},
	}
	// The shared server is never restarted: without a restart the suite
	// skips that test itself.
	if restart != nil {
		hs.RestartServer = func(t *testing.T, _ herald.Broker) { restart(t) }
	}
	return hs
}

// TestConformance runs the suite against an embedded nats-server (the
// version in go.mod), which it can restart.
func TestConformance(t *testing.T) {
	srv := startEmbedded(t)
	h := newHarness(srv.url())
	brokertest.Run(t, h.brokertest(func(t *testing.T) { srv.Restart(t) }))
}

// TestConformanceMemory runs the suite on memory storage, as nats-server
// runs its store tests on both; a restart would lose the streams, so the
// server is not restarted.
func TestConformanceMemory(t *testing.T) {
	srv := startEmbedded(t)
	h := newHarness(srv.url())
	h.storage = "memory"
	brokertest.Run(t, h.brokertest(nil))
}

// TestConformanceNATS29 runs the suite against the shared server on
// 127.0.0.1:4222 (nats-server 2.9.10 on the project's machines), to
// prove the broker needs nothing newer. Each broker gets a prefix of its
// own, whose streams and buckets are deleted afterwards; the server is
// never restarted.
func TestConformanceNATS29(t *testing.T) {
	nc := sharedServer(t)
	t.Logf("shared server: nats-server %s", nc.ConnectedServerVersion())
	h := newHarness(sharedServerURL)
	h.onPrefix = func(t *testing.T, prefix string) {
		// Registered before the suite's Close of the broker, so it runs
		// after it.
		t.Cleanup(func() { deletePrefix(t, nc, prefix) })
	}
	brokertest.Run(t, h.brokertest(nil))
}
