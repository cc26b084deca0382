package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDemoToken(t *testing.T) {
	var minted []string
	h := Demo(DemoConfig{
		Mint: func(user string, ttl time.Duration) (string, error) {
			if user == "broken" {
				return "", errors.New("no key")
			}
			minted = append(minted, user)
			return "token-of-" + user + "-" + ttl.String(), nil
		},
		TokenTTL: 90 * time.Second,
	})
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"valid name", `{"name":"alice_1"}`, http.StatusOK, `"token":"token-of-alice_1-1m30s"`},
		{"expiry in seconds", `{"name":"bob"}`, http.StatusOK, `"expiresIn":90`},
		{"empty name", `{"name":""}`, http.StatusBadRequest, "a name is 1 to 32"},
		{"name with a dot", `{"name":"a.b"}`, http.StatusBadRequest, "a name is 1 to 32"},
		{"name too long", `{"name":"` + strings.Repeat("x", 33) + `"}`, http.StatusBadRequest, "a name is 1 to 32"},
		{"not JSON", `name=alice`, http.StatusBadRequest, "must be JSON"},
		{"body too large", `{"name":"` + strings.Repeat("x", 2000) + `"}`, http.StatusBadRequest, "must be JSON"},
		{"signing fails", `{"name":"broken"}`, http.StatusInternalServerError, "could not sign"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/demo/token", strings.NewReader(tt.body)))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("got %d %s, want %d with %q", rec.Code, rec.Body, tt.status, tt.want)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("answer is not JSON: %s", rec.Body)
			}
		})
	}
	if strings.Join(minted, ",") != "alice_1,bob" {
		t.Fatalf("minted for %v", minted)
	}
}

func TestDemoPages(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", Assets())
	demo := Demo(DemoConfig{Mint: func(string, time.Duration) (string, error) { return "t", nil }})
	mux.Handle("GET /{$}", demo)
	mux.Handle("GET /sw.js", demo)
	tests := []struct {
		path, contentType, contains string
		status                      int
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/assets/demo.js">`, 200},
		{"/sw.js", "text/javascript; charset=utf-8", "herald-demo-v1", 200},
		{"/assets/demo.js", "text/javascript; charset=utf-8", "demo/token", 200},
		{"/assets/demo.css", "text/css; charset=utf-8", ".msg", 200},
		{"/assets/missing.js", "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			if rec.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
		})
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("page without a strict CSP: %q", csp)
	}
}
