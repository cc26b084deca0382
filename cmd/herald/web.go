package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/web"
)

// mountWeb adds the browser pages: the built assets, the admin
// dashboard at /admin, and the demo chat at / when --demo allows it
// (else a line that says what runs here).
func (c *serveCmd) mountWeb(mux *http.ServeMux, h *hub.Hub, metricsHandler http.Handler, log *slog.Logger) error {
	mux.Handle("GET /assets/", web.Assets())
	if err := c.mountAdmin(mux, h, metricsHandler, log); err != nil {
		return err
	}
	key, err := c.demoKey()
	if err != nil {
		return err
	}
	if key == nil {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "Herald is running. WebSocket endpoint: /ws; protocol: docs/PROTOCOL.md; metrics: /metrics.")
		})
		return nil
	}
	demo := web.Demo(web.DemoConfig{
		Mint: func(user string, ttl time.Duration) (string, error) {
			return auth.Mint(key, user, []string{web.DemoChannels}, ttl, time.Now())
		},
		TokenTTL: c.DemoTokenTTL,
		Logger:   log,
	})
	mux.Handle("GET /{$}", demo)
	mux.Handle("GET /sw.js", demo)
	mux.Handle("POST /demo/token", demo)
	log.Info("demo chat at /", "token_ttl", c.DemoTokenTTL)
	return nil
}

// demoKey returns the key that signs demo tokens, or nil when the demo
// is off.
func (c *serveCmd) demoKey() ([]byte, error) {
	switch {
	case c.Demo == "off":
		return nil, nil
	case c.devKey != nil:
		return c.devKey, nil
	case c.Demo == "auto":
		return nil, nil
	case len(c.JWTSecret) > 0:
		return []byte(c.JWTSecret[0]), nil
	default:
		return nil, fmt.Errorf("--demo=on: %w", web.ErrNoDemoKey)
	}
}
