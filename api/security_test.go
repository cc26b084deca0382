package api_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// endpoints are a valid request to each authenticated operation.
var endpoints = []call{
	{method: http.MethodPost, path: "/api/publish", body: map[string]any{"channel": "sec.1", "payload": 1}},
	{method: http.MethodPost, path: "/api/broadcast", body: map[string]any{"channels": []string{"sec.1"}, "payload": 1}},
	{method: http.MethodGet, path: "/api/history?channel=sec.1"},
	{method: http.MethodGet, path: "/api/presence?channel=sec.1"},
	{method: http.MethodPost, path: "/api/disconnect", body: map[string]any{"userId": "nobody"}},
	{method: http.MethodGet, path: "/api/channels"},
	{method: http.MethodGet, path: "/api/info"},
}

// TestAuthentication: without a valid key every operation but the
// document gets 401 with a Bearer challenge, and nothing is done; with
// one, in either header, it goes through.
func TestAuthentication(t *testing.T) {
	srv, c := startNode(t, testserver.Options{APIKeys: []string{testKey, "second-key-0123456789abcdef"}})
	revoked := "revoked-key-0123456789abcdef"
	srv.APIKeys.Replace([]string{testKey, "second-key-0123456789abcdef", revoked})
	srv.APIKeys.Replace([]string{testKey, "second-key-0123456789abcdef"})

	credentials := []struct {
		name      string
		header    map[string]string
		noKey     bool
		ok        bool
		challenge string
	}{
		{name: "no key", noKey: true, challenge: `Bearer realm="herald"`},
		{name: "wrong key", header: map[string]string{"Authorization": "Bearer wrong-key"}, challenge: `Bearer realm="herald", error="invalid_token"`},
		{name: "revoked key", header: map[string]string{"Authorization": "Bearer " + revoked}, challenge: `Bearer realm="herald", error="invalid_token"`},
		{name: "wrong key in X-Api-Key", noKey: true, header: map[string]string{"X-Api-Key": "wrong-key"}, challenge: `Bearer realm="herald", error="invalid_token"`},
		{name: "key with another scheme", header: map[string]string{"Authorization": "Basic " + testKey}, challenge: `Bearer realm="herald", error="invalid_token"`},
		{name: "empty bearer", header: map[string]string{"Authorization": "Bearer "}, challenge: `Bearer realm="herald", error="invalid_token"`},
		{name: "a prefix of the key", header: map[string]string{"Authorization": "Bearer " + testKey[:10]}, challenge: `Bearer realm="herald", error="invalid_token"`},
		{name: "the key and more", header: map[string]string{"Authorization": "Bearer " + testKey + "x"}, challenge: `Bearer realm="herald", error="invalid_token"`},
		{name: "bearer", ok: true},
		{name: "bearer in lower case", header: map[string]string{"Authorization": "bearer " + testKey}, ok: true},
		{name: "X-Api-Key", noKey: true, header: map[string]string{"X-Api-Key": testKey}, ok: true},
		{name: "second key", header: map[string]string{"Authorization": "Bearer second-key-0123456789abcdef"}, ok: true},
	}
	for _, cr := range credentials {
		t.Run(cr.name, func(t *testing.T) {
			for _, ep := range endpoints {
				cl := ep
				cl.noKey, cl.header = cr.noKey, cr.header
				if !cr.ok {
					// The document requires credentials; which keys are
					// valid only the server knows.
					cl.doc = docSilent
				}
				res := c.do(t, cl)
				if cr.ok {
					res.expectOK(t)
					continue
				}
				res.expectError(t, http.StatusUnauthorized, protocol.CodeUnauthorized)
				if got := res.header.Get("WWW-Authenticate"); got != cr.challenge {
					t.Errorf("%s %s: WWW-Authenticate %q, want %q", ep.method, ep.path, got, cr.challenge)
				}
			}
		})
	}
	// None of the refused publishes was stored: the only ones are the
	// four accepted rounds of publish and broadcast.
	var h api.HistoryResponse
	c.get(t, "/api/history?channel=sec.1").decode(t, &h)
	if h.Head != 8 {
		t.Errorf("sec.1 head %d, want 8: refused requests must do nothing", h.Head)
	}
}

// TestKeyRotation: the keys of a rotation work side by side, and a key
// removed with Replace is refused from the next request on.
func TestKeyRotation(t *testing.T) {
	srv, _ := startNode(t, testserver.Options{APIKeys: []string{"old-key-0123456789abcdef"}})
	oldKey := newClient(t, srv.HTTP, "old-key-0123456789abcdef")
	newKey := newClient(t, srv.HTTP, "new-key-0123456789abcdef")
	status := func(t *testing.T, c *client) int {
		t.Helper()
		return c.do(t, call{method: http.MethodGet, path: "/api/info", doc: docSilent}).status
	}
	steps := []struct {
		name     string
		keys     []string
		old, new int
	}{
		{"before", nil, 200, 401},
		{"add the new key", []string{"old-key-0123456789abcdef", "new-key-0123456789abcdef"}, 200, 200},
		{"drop the old key", []string{"new-key-0123456789abcdef"}, 401, 200},
		{"no keys at all", []string{}, 401, 401},
		{"whitespace around a key from a file", []string{" new-key-0123456789abcdef\n"}, 401, 200},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.keys != nil {
				srv.APIKeys.Replace(st.keys)
			}
			if got := status(t, oldKey); got != st.old {
				t.Errorf("old key: %d, want %d", got, st.old)
			}
			if got := status(t, newKey); got != st.new {
				t.Errorf("new key: %d, want %d", got, st.new)
			}
		})
	}
}

// TestNoKeysConfigured: an API with no keys is closed, except for its
// document.
func TestNoKeysConfigured(t *testing.T) {
	srv, _ := startNode(t, testserver.Options{})
	c := newClient(t, serveAPI(t, srv, api.Config{}), "")
	for _, ep := range endpoints {
		ep.noKey, ep.doc = true, docSilent
		c.do(t, ep).expectError(t, http.StatusUnauthorized, protocol.CodeUnauthorized)
	}
	c.do(t, call{method: http.MethodGet, path: "/api/openapi.yaml", noKey: true}).expectOK(t)
}

// TestBodyLimits: a body over the limit gets 413 whether it declares its
// length or streams it; a body at the limit is read.
func TestBodyLimits(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	over := []byte(`{"channel":"big.1","payload":"` + strings.Repeat("x", api.DefaultMaxBodyBytes) + `"}`)
	t.Run("declared length", func(t *testing.T) {
		c.do(t, call{method: http.MethodPost, path: "/api/publish", raw: over, doc: docSilent}).expectError(t, 413, protocol.CodeTooLarge)
	})
	t.Run("chunked", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, srv.HTTP+"/api/publish", io.MultiReader(bytes.NewReader(over)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if req.ContentLength != 0 {
			t.Fatalf("the request declared its length, %d", req.ContentLength)
		}
		sent := newRequest(t, http.MethodPost, srv.HTTP+"/api/publish", over)
		sent.Header = req.Header.Clone()
		r := response{status: res.StatusCode, header: res.Header, body: body}
		validate(t, sent, docSilent, r)
		r.expectError(t, 413, protocol.CodeTooLarge)
	})
	t.Run("a smaller limit", func(t *testing.T) {
		lc := newClient(t, serveAPI(t, srv, api.Config{Keys: api.NewKeys(testKey), MaxBodyBytes: 64}), testKey)
		lc.post(t, "/api/publish", map[string]any{"channel": "big.1", "payload": "fits"}).expectOK(t)
		lc.do(t, call{method: http.MethodPost, path: "/api/publish", doc: docSilent,
			body: map[string]any{"channel": "big.1", "payload": strings.Repeat("y", 64)}}).expectError(t, 413, protocol.CodeTooLarge)
	})
}

// TestRateLimit: a key over its rate gets 429 with Retry-After, other
// keys do not, and the key recovers as time passes.
func TestRateLimit(t *testing.T) {
	srv, _ := startNode(t, testserver.Options{})
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	base := serveAPI(t, srv, api.Config{
		Keys: api.NewKeys("k1-0123456789abcdef", "k2-0123456789abcdef"), RequestRate: 1, RequestBurst: 2, Clock: clock,
	})
	k1 := newClient(t, base, "k1-0123456789abcdef")
	k2 := newClient(t, base, "k2-0123456789abcdef")
	k1.get(t, "/api/info").expectOK(t)
	k1.get(t, "/api/info").expectOK(t)
	res := k1.get(t, "/api/info")
	res.expectError(t, http.StatusTooManyRequests, protocol.CodeRateLimited)
	if res.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	k2.get(t, "/api/info").expectOK(t)
	clock.add(time.Second)
	k1.get(t, "/api/info").expectOK(t)
}

// TestRouting: unknown paths get 404 and wrong methods 405 with Allow,
// both as JSON errors, and both only once the key is checked.
func TestRouting(t *testing.T) {
	_, c := startNode(t, testserver.Options{})
	tests := []struct {
		name   string
		call   call
		status int
		code   protocol.Code
		allow  string
	}{
		{"unknown path", call{method: http.MethodGet, path: "/api/nope"}, 404, protocol.CodeNotFound, ""},
		{"trailing slash", call{method: http.MethodPost, path: "/api/publish/", body: map[string]any{}}, 404, protocol.CodeNotFound, ""},
		{"unknown path without a key", call{method: http.MethodGet, path: "/api/nope", noKey: true}, 401, protocol.CodeUnauthorized, ""},
		{"GET on a POST path", call{method: http.MethodGet, path: "/api/publish"}, 405, protocol.CodeBadRequest, "POST"},
		{"POST on a GET path", call{method: http.MethodPost, path: "/api/history", body: map[string]any{}}, 405, protocol.CodeBadRequest, "GET, HEAD"},
		{"DELETE", call{method: http.MethodDelete, path: "/api/channels"}, 405, protocol.CodeBadRequest, "GET, HEAD"},
		{"wrong method without a key", call{method: http.MethodGet, path: "/api/publish", noKey: true}, 401, protocol.CodeUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.doc = docSilent
			res := c.do(t, tt.call)
			res.expectError(t, tt.status, tt.code)
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		res := c.do(t, call{method: http.MethodHead, path: "/api/info"})
		if res.status != 200 || len(res.body) != 0 {
			t.Fatalf("got %d with %d bytes, want 200 and no body", res.status, len(res.body))
		}
	})
	t.Run("headers", func(t *testing.T) {
		res := c.get(t, "/api/info")
		for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
			if got := res.header.Get(k); got != v {
				t.Errorf("%s %q, want %q", k, got, v)
			}
		}
	})
}
