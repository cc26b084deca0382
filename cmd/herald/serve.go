package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/transport/sse"
	"github.com/heraldrt/herald/transport/ws"
)

type serveCmd struct {
	Config kong.ConfigFlag `placeholder:"FILE" help:"YAML file of settings; keys are the flag names with underscores (max_frame_size: 65536)."`

	Addr string `default:"127.0.0.1:8080" help:"Address to listen on (WebSocket at /ws, its SSE fallback at /sse, metrics at /metrics)."`
	Data string `default:"./data" help:"Directory of the embedded message log."`

	JWTSecret     []string      `name:"jwt-secret" sep:"none" group:"auth" help:"HS256 key (at least 32 bytes) that verifies client tokens; repeat the flag to accept several during a rotation. Without any key Herald runs in development mode with a generated one."`
	JWTPublicKey  []string      `name:"jwt-public-key" sep:"none" group:"auth" placeholder:"FILE[#KID]" help:"PEM public key (RSA, EC P-256 or Ed25519) that verifies tokens, optionally with its key id; repeatable."`
	JWKSURL       string        `name:"jwks-url" group:"auth" placeholder:"URL" help:"JWKS endpoint of the token issuer; keys are cached, refreshed and rotated by kid."`
	JWKSRefresh   time.Duration `name:"jwks-refresh" default:"5m" group:"auth" help:"How often the JWKS is fetched again."`
	JWTAlgorithms []string      `name:"jwt-algorithms" group:"auth" placeholder:"ALG,..." help:"Token algorithms accepted (HS256, RS256, ES256, EdDSA); default: those of the configured keys."`
	JWTIssuer     string        `name:"jwt-issuer" group:"auth" help:"Required iss claim, when set."`
	JWTAudience   string        `name:"jwt-audience" group:"auth" help:"Required aud claim, when set."`
	JWTLeeway     time.Duration `name:"jwt-leeway" default:"5s" group:"auth" help:"Clock skew tolerated on exp, nbf and iat."`

	Broker            string        `default:"embedded" group:"cluster" placeholder:"embedded|redis://…|nats://…" help:"Where channels live: embedded (this node's own log in --data) or a Redis (redis://host:6379, rediss://…) or NATS JetStream (nats://host:4222) server that several nodes share."`
	BrokerPrefix      string        `default:"herald" group:"cluster" help:"Prefix of the broker's keys, subjects, streams and buckets; the nodes of one cluster share it."`
	NodeID            string        `name:"node-id" group:"cluster" help:"This node's id in the cluster's presence; default: random."`
	PresenceTTL       time.Duration `default:"30s" group:"cluster" help:"How long the presence of a node that stopped without saying goodbye outlives it."`
	RedisWaitReplicas int           `name:"redis-wait-replicas" group:"cluster" help:"Ack a publish only once this many Redis replicas have it (WAIT), so that a failover loses nothing acked; 0: once the primary has it."`
	NATSReplicas      int           `name:"nats-replicas" default:"1" group:"cluster" help:"Replicas of JetStream streams and buckets (3 for a NATS cluster that must survive a server's loss)."`
	NATSStorage       string        `name:"nats-storage" default:"file" enum:"file,memory" group:"cluster" help:"JetStream storage of streams: file, or memory (lost when the NATS server restarts)."`

	Durability     string         `default:"sync" enum:"sync,none" help:"When a publish is acked: sync = after fsync (group commit), none = before (faster; a crash may lose the last acks)."`
	RetentionAge   time.Duration  `default:"72h" help:"How long messages are kept for replay."`
	RetentionCount uint64         `default:"100000" help:"Most messages kept per channel."`
	DedupeWindow   time.Duration  `default:"10m" help:"How long a publish id is remembered to drop retries."`
	Namespaces     namespacesFlag `placeholder:"JSON" help:"Per-namespace policy, as JSON (a mapping in the config file): {\"chat\":{\"history\":true,\"retention_age\":\"72h\",\"retention_count\":1000,\"client_publish\":true,\"presence\":true,\"max_message_size\":4096,\"publish_rate\":10,\"publish_burst\":20,\"subscribe_hook\":false,\"publish_hook\":false,\"unsubscribe_hook\":false},\"default\":{...}}."`

	MaxFrameSize       int           `default:"65536" help:"Largest client frame in bytes; larger closes with 1009."`
	MaxQueueBytes      int           `default:"1048576" help:"Bytes a client may leave unread before it is closed with 4008 (slow consumer)."`
	AuthTimeout        time.Duration `default:"5s" help:"Time a new connection has to authenticate (else 4001)."`
	PingInterval       time.Duration `default:"25s" help:"Silence after which the server pings a connection."`
	PongTimeout        time.Duration `default:"10s" help:"Time a pinged connection has to answer before it is dropped."`
	TokenExpiryWarning time.Duration `default:"60s" help:"How long before token expiry token_expiring is sent."`
	TokenExpiryGrace   time.Duration `default:"5s" help:"How long after token expiry an unrefreshed connection is closed with 4001."`
	ShutdownTimeout    time.Duration `default:"10s" help:"How long a drain (SIGTERM) waits for clients to go."`

	APIKey      []string `name:"api-key" group:"api" help:"Key of the server API at /api/ (Authorization: Bearer KEY); several may be valid at once for rotation. Without any key the API answers 401."`
	APIKeysFile string   `name:"api-keys-file" group:"api" type:"path" placeholder:"FILE" help:"File of API keys, one per line (# comments); read again on SIGHUP, so keys rotate without a restart."`
	APIRate     float64  `name:"api-rate" group:"api" help:"Requests per second per API key (429 past it); 0: no limit."`

	WebhookURL     string        `name:"webhook-url" group:"webhooks" placeholder:"URL" help:"App backend endpoint that decides connects (--connect-hook) and, per namespace, subscribes and publishes, and hears of disconnects and unsubscribes."`
	WebhookSecret  string        `name:"webhook-secret" group:"webhooks" help:"Key that signs webhook requests (Herald-Signature header, HMAC-SHA256)."`
	WebhookTimeout time.Duration `name:"webhook-timeout" default:"2s" group:"webhooks" help:"Timeout of one webhook request."`
	WebhookRetries int           `name:"webhook-retries" default:"2" group:"webhooks" help:"Retries of a decision on network errors, timeouts, 5xx and 429."`
	HookTimeout    time.Duration `name:"hook-timeout" default:"3s" group:"webhooks" help:"Time the app backend has to decide, retries included; past it the client gets internal."`
	ConnectHook    bool          `name:"connect-hook" group:"webhooks" help:"Ask the webhook before accepting each connection."`
	DisconnectHook bool          `name:"disconnect-hook" group:"webhooks" help:"Tell the webhook when an authenticated connection ends."`

	AllowedOrigins        []string `group:"limits" placeholder:"ORIGIN,..." help:"Browser origins that may connect (https://app.example.com, https://*.example.com, or *); empty: this server's host only. Clients that send no Origin (apps) are always allowed."`
	ConnRate              float64  `default:"20" group:"limits" help:"WebSocket upgrades per second per client IP (429 past it); negative turns it off."`
	ConnBurst             int      `default:"100" group:"limits" help:"Burst of upgrades per client IP."`
	MaxConnectionsPerUser int      `default:"100" group:"limits" help:"A user's connections at once; more are closed with 1008. Negative: no limit."`
	MaxSubscriptions      int      `default:"1000" group:"limits" help:"Subscriptions per connection (too_large past it)."`
	MaxHistoryLimit       int      `default:"1000" group:"limits" help:"Largest limit of a history frame (too_large past it); without one a page holds up to 100 messages."`
	MaxFrameRate          float64  `default:"1000" group:"limits" help:"Frames per second a connection may send (rate_limited past it; 4029 for a client that keeps on)."`
	MaxFrameBurst         int      `default:"2000" group:"limits" help:"Burst of frames per connection."`
	PublishRate           float64  `default:"1000" group:"limits" help:"Publishes per second per connection and namespace, unless the namespace sets its own."`
	PublishBurst          int      `default:"2000" group:"limits" help:"Burst of publishes per connection and namespace."`

	PresenceInterval   time.Duration `default:"500ms" group:"presence" help:"How often a channel's joins and leaves go to its watchers, as one presence_diff."`
	PresenceMaxMembers int           `default:"1000" group:"presence" help:"Largest channel whose presence lists members; larger ones give the count only."`
	PresenceResync     time.Duration `default:"30s" group:"presence" help:"How often a watched channel's presence is read in full (drops the members of dead nodes)."`
	TypingTTL          time.Duration `name:"typing-ttl" default:"5s" group:"presence" help:"How long a typing notice lasts unless repeated."`
	TypingInterval     time.Duration `default:"1s" group:"presence" help:"Least time between two typing notices of a user in a channel that are passed on."`
	ReceiptInterval    time.Duration `default:"1s" group:"presence" help:"How often reported receipt positions are written and sent to the channel as one receipts frame."`

	GCPercent    int           `name:"gc-percent" default:"50" help:"Go GC target (GOGC): lower keeps less memory per idle connection, higher spends less CPU under load. GOGC in the environment wins."`
	TrimInterval time.Duration `default:"10s" help:"How often free heap is checked and, when it is over 4 MiB and an eighth of the heap in use, handed back to the OS (after reconnect storms). 0 turns it off."`
	PprofAddr    string        `name:"pprof-addr" placeholder:"ADDR" help:"Serve Go's /debug/pprof on this separate address (off by default; never expose it publicly)."`

	Demo         string        `default:"auto" enum:"auto,on,off" group:"web" help:"Serve the demo chat at /: auto = in development mode only; on = also with --jwt-secret, whose first key signs its tokens. The demo hands a token for demo.> channels to anyone who picks a name."`
	DemoTokenTTL time.Duration `name:"demo-token-ttl" default:"1h" group:"web" help:"How long a demo token lasts; the page fetches a new one on token_expiring."`

	AdminUser     string `name:"admin-user" default:"admin" group:"web" help:"User name of the admin dashboard at /admin."`
	AdminPassword string `name:"admin-password" group:"web" help:"Password of the admin dashboard at /admin; without one the dashboard is off, but in development mode, where one is generated, kept in the data directory and logged."`

	LogLevel  string `default:"info" enum:"debug,info,warn,error" help:"Log level."`
	LogFormat string `default:"text" enum:"text,json" help:"Log format."`

	// devKey is the generated key of development mode, set by verifier.
	devKey []byte
}

func (c *serveCmd) Run() error {
	log := newLogger(c.LogLevel, c.LogFormat)
	slog.SetDefault(log)
	tuneGC(c.GCPercent, log)

	verifier, err := c.verifier(log)
	if err != nil {
		return err
	}
	defer verifier.Close()

	broker, brokerKind, err := c.broker(log)
	if err != nil {
		return err
	}
	hooks, err := c.webhooks(log)
	if err != nil {
		return err
	}
	hubCfg := c.hubConfig(log)
	if hooks != nil {
		hubCfg.Hooks = hooks
	}
	h := hub.New(hubCfg, broker, verifier)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if c.TrimInterval > 0 {
		go trimMemory(ctx, c.TrimInterval, log)
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	wsServer, err := ws.New(h, ws.Config{
		MaxFrameSize:   c.MaxFrameSize,
		AllowedOrigins: c.AllowedOrigins,
		ConnRate:       c.ConnRate,
		ConnBurst:      c.ConnBurst,
		Logger:         log,
	})
	if err != nil {
		return err
	}

	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /ws", wsServer)
	sse.Mount(mux, sse.New(h, sse.Config{
		MaxFrameSize:   c.MaxFrameSize,
		AllowedOrigins: c.AllowedOrigins,
		ConnRate:       c.ConnRate,
		ConnBurst:      c.ConnBurst,
		Logger:         log,
	}))
	metricsHandler := metrics.Handler(&h.Stats, hooks)
	mux.Handle("GET /metrics", metricsHandler)
	apiKeys, err := c.apiKeys()
	if err != nil {
		return err
	}
	mux.Handle("/api/", api.New(h, api.Config{Keys: apiKeys, Version: version, RequestRate: c.APIRate, Logger: log}))
	go c.reloadOnHangup(ctx, apiKeys, log)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if err := c.mountWeb(mux, h, metricsHandler, log); err != nil {
		return err
	}

	if c.PprofAddr != "" {
		if err := servePprof(c.PprofAddr, log); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("herald listening", "addr", ln.Addr().String(), "broker", brokerKind, "data", c.Data, "durability", c.Durability)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("draining", "timeout", c.ShutdownTimeout)
	draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	// The hub first: it closes every session with 1012 (WebSocket and
	// SSE) while the HTTP server still answers, so that API calls during
	// the drain work and new connections get 503.
	if err := h.Shutdown(sctx, protocol.CloseServiceRestart); err != nil {
		log.Warn("clients still connected at the end of the drain were cut", "err", err)
	}
	_ = srv.Shutdown(sctx)
	_ = wsServer.Close(sctx)
	if hooks != nil {
		if err := hooks.Close(sctx); err != nil {
			log.Warn("webhook notifications not sent before the end of the drain", "err", err)
		}
	}
	if err := broker.Close(context.Background()); err != nil {
		return fmt.Errorf("close log: %w", err)
	}
	log.Info("stopped")
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func newLogger(level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// servePprof serves the runtime profiles on their own listener, so that
// they are never reachable through the public address.
func servePprof(addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof listening", "addr", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
