package ws_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/transport/ws"
)

// dialStatus dials with an Origin header and returns the HTTP status of
// the upgrade (101 when it succeeded).
func dialStatus(t *testing.T, url, origin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		_ = c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

func TestOrigins(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		want    int
	}{
		{"no origin: an app, not a browser", nil, "", 101},
		{"same host by default", nil, "http://HOST", 101},
		{"foreign site by default", nil, "https://evil.example", 403},
		{"listed origin", []string{"https://app.example.com"}, "https://app.example.com", 101},
		{"listed origin, other scheme", []string{"https://app.example.com"}, "http://app.example.com", 403},
		{"unlisted origin", []string{"https://app.example.com"}, "https://evil.example", 403},
		{"own host once a list is set", []string{"https://app.example.com"}, "http://HOST", 403},
		{"wildcard subdomain", []string{"https://*.example.com"}, "https://a.b.example.com", 101},
		{"wildcard is not the apex", []string{"https://*.example.com"}, "https://example.com", 403},
		{"wildcard suffix trick", []string{"https://*.example.com"}, "https://evil-example.com", 403},
		{"any", []string{"*"}, "https://anything.example", 101},
		{"malformed origin", nil, "::not a url", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.Start(t, testserver.Options{WS: ws.Config{AllowedOrigins: tt.allowed}})
			origin := tt.origin
			if origin == "http://HOST" {
				origin = "http://" + srv.Addr()
			}
			if got := dialStatus(t, srv.URL, origin); got != tt.want {
				t.Fatalf("upgrade from %q: status %d, want %d", origin, got, tt.want)
			}
		})
	}
}

func TestConnectionRatePerIP(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{WS: ws.Config{ConnRate: 0.5, ConnBurst: 3}})
	for i := range 3 {
		if got := dialStatus(t, srv.URL, ""); got != 101 {
			t.Fatalf("connection %d: status %d", i, got)
		}
	}
	if got := dialStatus(t, srv.URL, ""); got != http.StatusTooManyRequests {
		t.Fatalf("connection past the burst: status %d, want 429", got)
	}
}
