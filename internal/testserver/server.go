// Package testserver starts a complete Herald node in-process for tests:
// the embedded broker on a temporary directory, the hub, the WebSocket
// transport and the metrics endpoint, on a free loopback port.
package testserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/transport/sse"
	"github.com/heraldrt/herald/transport/ws"
)

// Secret is the HS256 key test servers accept.
var Secret = []byte("herald-test-secret-0123456789abcdef")

// Options adjust a test server. Zero values keep the production defaults.
type Options struct {
	Hub    hub.Config
	Broker membroker.Config
	WS     ws.Config
	// SSE configures the HTTP fallback at /sse; its MaxFrameSize defaults
	// to WS's.
	SSE sse.Config
	// Dir is the data directory; empty means a new temporary one.
	Dir string
	// APIKeys, when not empty, mounts the server API at /api/ with these
	// keys.
	APIKeys []string
	// Auth, when set, configures the token verifier instead of the
	// default: HS256 with Secret.
	Auth *auth.Config
	// Shared, when set, is the node's broker instead of an embedded one
	// (Broker and Dir are then unused); the server closes it on Stop.
	Shared herald.Broker
}

// Server is a running node.
type Server struct {
	// URL is the WebSocket endpoint, ws://127.0.0.1:port/ws.
	URL string
	// HTTP is the base HTTP URL, http://127.0.0.1:port.
	HTTP   string
	Hub    *hub.Hub
	Broker herald.Broker
	Dir    string
	// APIKeys are the server API's keys (nil without Options.APIKeys), for
	// tests that rotate or revoke them.
	APIKeys *api.Keys

	ws   *ws.Server
	auth *auth.Verifier
	srv  *http.Server
	done chan struct{}
}

// Start starts a node and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Broker.Dir = opts.Dir
	if opts.Broker.Logger == nil {
		opts.Broker.Logger = log
	}
	if opts.Hub.Logger == nil {
		opts.Hub.Logger = log
	}
	if opts.WS.Logger == nil {
		opts.WS.Logger = log
	}
	if opts.WS.ConnRate == 0 {
		opts.WS.ConnRate = -1 // tests connect fast from one address
	}
	var b herald.Broker = opts.Shared
	if b == nil {
		mb, err := membroker.New(opts.Broker)
		if err != nil {
			t.Fatal(err)
		}
		b = mb
	}
	acfg := auth.Config{Secrets: [][]byte{Secret}, Clock: opts.Hub.Clock}
	if opts.Auth != nil {
		acfg = *opts.Auth
	}
	v, err := auth.NewVerifier(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(opts.Hub, b, v)
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	wsSrv, err := ws.New(h, opts.WS)
	if err != nil {
		t.Fatal(err)
	}
	if opts.SSE.MaxFrameSize == 0 {
		opts.SSE.MaxFrameSize = opts.WS.MaxFrameSize
	}
	if opts.SSE.ConnRate == 0 {
		opts.SSE.ConnRate = -1
	}
	if opts.SSE.Logger == nil {
		opts.SSE.Logger = log
	}
	sseSrv := sse.New(h, opts.SSE)
	mux := http.NewServeMux()
	mux.Handle("/ws", wsSrv)
	sse.Mount(mux, sseSrv)
	mux.Handle("/metrics", metrics.Handler(&h.Stats, nil))
	var apiKeys *api.Keys
	if len(opts.APIKeys) > 0 {
		apiKeys = api.NewKeys(opts.APIKeys...)
		mux.Handle("/api/", api.New(h, api.Config{Keys: apiKeys, Logger: log}))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		URL: "ws://" + ln.Addr().String() + "/ws", HTTP: "http://" + ln.Addr().String(),
		Hub: h, Broker: b, Dir: opts.Dir, APIKeys: apiKeys, ws: wsSrv, auth: v,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() { defer close(s.done); _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop drains and stops the node; it may be called more than once.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The hub first, as herald serve does: sessions close with 1012
	// while the HTTP server still answers.
	_ = s.Hub.Shutdown(ctx, protocol.CloseServiceRestart)
	_ = s.srv.Shutdown(ctx)
	<-s.done
	_ = s.ws.Close(ctx)
	_ = s.Broker.Close(ctx)
	_ = s.auth.Close()
}

// Token mints a token for sub granting the channel patterns, valid for an
// hour.
func Token(t testing.TB, sub string, channels ...string) string {
	return TokenTTL(t, sub, time.Hour, channels...)
}

// TokenTTL mints a token valid for ttl.
func TokenTTL(t testing.TB, sub string, ttl time.Duration, channels ...string) string {
	t.Helper()
	tok, err := auth.Mint(Secret, sub, channels, ttl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Addr returns host:port of the server.
func (s *Server) Addr() string {
	return strings.TrimSuffix(strings.TrimPrefix(s.URL, "ws://"), "/ws")
}
