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

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/transport/ws"
)

type serveCmd struct {
	Config kong.ConfigFlag `placeholder:"FILE" help:"YAML file of settings; keys are the flag names with underscores (max_frame_size: 65536)."`

	Addr      string `default:"127.0.0.1:8080" help:"Address to listen on (WebSocket at /ws, metrics at /metrics)."`
	Data      string `default:"./data" help:"Directory of the embedded message log."`
	JWTSecret string `name:"jwt-secret" help:"HS256 key that verifies client tokens. Without it Herald runs in development mode with a generated key."`

	Durability     string        `default:"sync" enum:"sync,none" help:"When a publish is acked: sync = after fsync (group commit), none = before (faster; a crash may lose the last acks)."`
	RetentionAge   time.Duration `default:"72h" help:"How long messages are kept for replay."`
	RetentionCount uint64        `default:"100000" help:"Most messages kept per channel."`
	DedupeWindow   time.Duration `default:"10m" help:"How long a publish id is remembered to drop retries."`

	MaxFrameSize       int           `default:"65536" help:"Largest client frame in bytes; larger closes with 1009."`
	MaxQueueBytes      int           `default:"1048576" help:"Bytes a client may leave unread before it is closed with 4008 (slow consumer)."`
	AuthTimeout        time.Duration `default:"5s" help:"Time a new connection has to authenticate (else 4001)."`
	PingInterval       time.Duration `default:"25s" help:"Silence after which the server pings a connection."`
	PongTimeout        time.Duration `default:"10s" help:"Time a pinged connection has to answer before it is dropped."`
	TokenExpiryWarning time.Duration `default:"60s" help:"How long before token expiry token_expiring is sent."`
	ShutdownTimeout    time.Duration `default:"10s" help:"How long a drain (SIGTERM) waits for clients to go."`

	GCPercent    int           `name:"gc-percent" default:"50" help:"Go GC target (GOGC): lower keeps less memory per idle connection, higher spends less CPU under load. GOGC in the environment wins."`
	TrimInterval time.Duration `default:"10s" help:"How often free heap is checked and, when it is over 4 MiB and an eighth of the heap in use, handed back to the OS (after reconnect storms). 0 turns it off."`
	PprofAddr    string        `name:"pprof-addr" placeholder:"ADDR" help:"Serve Go's /debug/pprof on this separate address (off by default; never expose it publicly)."`

	LogLevel  string `default:"info" enum:"debug,info,warn,error" help:"Log level."`
	LogFormat string `default:"text" enum:"text,json" help:"Log format."`
}

func (c *serveCmd) Run() error {
	log := newLogger(c.LogLevel, c.LogFormat)
	slog.SetDefault(log)
	tuneGC(c.GCPercent, log)

	secret := []byte(c.JWTSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = devSecret(c.Data); err != nil {
			return fmt.Errorf("development key: %w", err)
		}
		fmt.Fprintf(os.Stderr, `
  ************************************************************************
  *  DEVELOPMENT MODE: no --jwt-secret (HERALD_JWT_SECRET) is set.         *
  *  Herald uses a generated key kept in %s.
  *  Mint a token with:   herald token --sub alice --channels 'chat.>'     *
  *  Never run like this in production.                                  *
  ************************************************************************

`, c.Data)
	}

	broker, err := membroker.New(membroker.Config{
		Dir:            c.Data,
		Durability:     membroker.Durability(c.Durability),
		RetentionAge:   c.RetentionAge,
		RetentionCount: c.RetentionCount,
		DedupeWindow:   c.DedupeWindow,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	verifier, err := auth.NewVerifier(auth.Config{Secret: secret})
	if err != nil {
		return err
	}
	h := hub.New(hub.Config{
		AuthTimeout:        c.AuthTimeout,
		PingInterval:       c.PingInterval,
		PongTimeout:        c.PongTimeout,
		TokenExpiryWarning: c.TokenExpiryWarning,
		MaxQueueBytes:      c.MaxQueueBytes,
		Logger:             log,
	}, broker, verifier)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if c.TrimInterval > 0 {
		go trimMemory(ctx, c.TrimInterval, log)
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	wsServer, err := ws.New(h, ws.Config{MaxFrameSize: c.MaxFrameSize, Logger: log})
	if err != nil {
		return err
	}

	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /ws", wsServer)
	mux.Handle("GET /metrics", metrics.Handler(&h.Stats))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Herald is running. WebSocket endpoint: /ws; protocol: docs/PROTOCOL.md; metrics: /metrics.")
	})

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
	log.Info("herald listening", "addr", ln.Addr().String(), "data", c.Data, "durability", c.Durability)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("draining", "timeout", c.ShutdownTimeout)
	draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := h.Shutdown(sctx, protocol.CloseServiceRestart); err != nil {
		log.Warn("clients still connected at the end of the drain were cut", "err", err)
	}
	_ = wsServer.Close(sctx)
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
