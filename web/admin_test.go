package web

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/protocol"
)

const (
	testUser     = "root"
	testPassword = "correct horse battery staple"
	testAPIKey   = "admin-internal-key-0123456789"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// adminFixture is a real node (hub, embedded broker) with the admin
// dashboard over its /metrics handler and a server API of its own.
type adminFixture struct {
	srv     *testserver.Server
	handler http.Handler
	metrics http.Handler
	clock   *testClock
}

func newAdminFixture(t *testing.T, cfg AdminConfig) *adminFixture {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{})
	f := &adminFixture{srv: srv, metrics: metrics.Handler(&srv.Hub.Stats, nil), clock: &testClock{now: time.Unix(1_800_000_000, 0)}}
	cfg.User = testUser
	if cfg.Password == "" {
		cfg.Password = testPassword
	}
	cfg.Metrics = f.metrics
	cfg.API = api.New(srv.Hub, api.Config{Keys: api.NewKeys(testAPIKey)})
	cfg.APIKey = testAPIKey
	cfg.Clock = f.clock
	cfg.Logger = slog.New(slog.DiscardHandler)
	f.handler = Admin(cfg)
	return f
}

// do serves one request from addr (an IP) with the cookie, if any.
func (f *adminFixture) do(r *http.Request, addr string, cookie *http.Cookie) *httptest.ResponseRecorder {
	if addr != "" {
		r.RemoteAddr = addr + ":50000"
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

func jsonLogin(user, password string) *http.Request {
	b, _ := json.Marshal(map[string]string{"user": user, "password": password})
	r := httptest.NewRequest("POST", "/admin/login", strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func formLogin(user, password string) *http.Request {
	r := httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"user": {user}, "password": {password}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// login logs in and returns the session cookie.
func (f *adminFixture) login(t *testing.T) *http.Cookie {
	t.Helper()
	rec := f.do(jsonLogin(testUser, testPassword), "192.0.2.1", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return sessionCookie(t, rec)
}

func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == adminCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", adminCookie, rec.Header())
	return nil
}

func TestAdminOff(t *testing.T) {
	h := Admin(AdminConfig{User: "admin"})
	tests := []struct {
		name, method, path, want string
	}{
		{"page", "GET", "/admin", "--admin-password"},
		{"metrics", "GET", "/admin/metrics", `"error"`},
		{"login", "POST", "/admin/login", `"error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("got %d %s, want 403 with %q", rec.Code, rec.Body, tt.want)
			}
		})
	}
}

func TestAdminLogin(t *testing.T) {
	tests := []struct {
		name     string
		req      func() *http.Request
		origin   string
		tls      bool
		status   int
		location string // for redirects
		cookie   bool
	}{
		{"JSON", func() *http.Request { return jsonLogin(testUser, testPassword) }, "", false, http.StatusOK, "", true},
		{"form", func() *http.Request { return formLogin(testUser, testPassword) }, "", false, http.StatusSeeOther, "/admin", true},
		{"same origin", func() *http.Request { return jsonLogin(testUser, testPassword) }, "http://example.com", false, http.StatusOK, "", true},
		{"over TLS", func() *http.Request { return jsonLogin(testUser, testPassword) }, "https://example.com", true, http.StatusOK, "", true},
		{"wrong password", func() *http.Request { return jsonLogin(testUser, "guess") }, "", false, http.StatusUnauthorized, "", false},
		{"wrong user", func() *http.Request { return jsonLogin("admin", testPassword) }, "", false, http.StatusUnauthorized, "", false},
		{"empty password", func() *http.Request { return jsonLogin(testUser, "") }, "", false, http.StatusUnauthorized, "", false},
		{"wrong password, form", func() *http.Request { return formLogin(testUser, "guess") }, "", false, http.StatusSeeOther, "/admin?error=login", false},
		{"other origin", func() *http.Request { return jsonLogin(testUser, testPassword) }, "http://evil.example", false, http.StatusForbidden, "", false},
		{"null origin", func() *http.Request { return jsonLogin(testUser, testPassword) }, "null", false, http.StatusForbidden, "", false},
		{"malformed JSON", func() *http.Request {
			r := httptest.NewRequest("POST", "/admin/login", strings.NewReader("{"))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "", false, http.StatusBadRequest, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAdminFixture(t, AdminConfig{})
			r := tt.req()
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			rec := f.do(r, "192.0.2.1", nil)
			if rec.Code != tt.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.location != "" && rec.Header().Get("Location") != tt.location {
				t.Errorf("Location %q, want %q", rec.Header().Get("Location"), tt.location)
			}
			if !tt.cookie {
				if len(rec.Result().Cookies()) != 0 {
					t.Fatalf("a failed login set %v", rec.Result().Cookies())
				}
				return
			}
			c := sessionCookie(t, rec)
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.Secure != tt.tls {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin, Secure=%v", c, tt.tls)
			}
			if c.MaxAge != 12*3600 {
				t.Errorf("cookie lasts %ds, want 12 h", c.MaxAge)
			}
			if rec := f.do(httptest.NewRequest("GET", "/admin/metrics", nil), "", c); rec.Code != http.StatusOK {
				t.Errorf("the new session reads metrics: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

func TestAdminLoginRateLimit(t *testing.T) {
	f := newAdminFixture(t, AdminConfig{LoginFailureBurst: 3, LoginFailureRate: 0.1})
	const guesser, admin = "198.51.100.7", "192.0.2.1"
	for i := range 3 {
		if rec := f.do(jsonLogin(testUser, "guess"), guesser, nil); rec.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, rec.Code)
		}
	}
	rec := f.do(jsonLogin(testUser, testPassword), guesser, nil)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("after 3 failures even the right password gets %d (Retry-After %q), want 429", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := f.do(formLogin(testUser, testPassword), guesser, nil); rec.Header().Get("Location") != "/admin?error=rate" {
		t.Fatalf("a form past the limit goes to %q", rec.Header().Get("Location"))
	}
	if rec := f.do(jsonLogin(testUser, testPassword), admin, nil); rec.Code != http.StatusOK {
		t.Fatalf("another address is not limited: %d", rec.Code)
	}
	f.clock.Advance(10 * time.Second) // one failure forgiven at 0.1/s
	if rec := f.do(jsonLogin(testUser, testPassword), guesser, nil); rec.Code != http.StatusOK {
		t.Fatalf("after the debt drained: %d, want 200", rec.Code)
	}
	if rec := f.do(jsonLogin(testUser, "guess"), guesser, nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("one more guess: %d, want 401", rec.Code)
	}
	if rec := f.do(jsonLogin(testUser, "guess"), guesser, nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("and then: %d, want 429", rec.Code)
	}
}

func TestAdminSession(t *testing.T) {
	f := newAdminFixture(t, AdminConfig{SessionTTL: time.Hour})
	good := f.login(t)
	exp, sig, _ := strings.Cut(good.Value, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	other := Admin(AdminConfig{User: testUser, Password: testPassword, Clock: f.clock, Metrics: f.metrics})
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, jsonLogin(testUser, testPassword))
	foreign := sessionCookie(t, rec)

	tests := []struct {
		name   string
		cookie *http.Cookie
		status int
	}{
		{"valid", good, http.StatusOK},
		{"missing", nil, http.StatusUnauthorized},
		{"empty", &http.Cookie{Name: adminCookie, Value: ""}, http.StatusUnauthorized},
		{"garbage", &http.Cookie{Name: adminCookie, Value: "hello"}, http.StatusUnauthorized},
		{"tampered signature", &http.Cookie{Name: adminCookie, Value: exp + "." + flip(sig)}, http.StatusUnauthorized},
		{"expiry moved later", &http.Cookie{Name: adminCookie, Value: "9" + exp + "." + sig}, http.StatusUnauthorized},
		{"signed by another node", foreign, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/admin/metrics", "/admin/api/channels"} {
				rec := f.do(httptest.NewRequest("GET", path, nil), "", tt.cookie)
				if rec.Code != tt.status {
					t.Fatalf("%s: %d %s, want %d", path, rec.Code, rec.Body, tt.status)
				}
				if tt.status == http.StatusUnauthorized && !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("%s: 401 is not JSON: %s", path, rec.Body)
				}
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		c := f.login(t)
		f.clock.Advance(59 * time.Minute)
		if rec := f.do(httptest.NewRequest("GET", "/admin/metrics", nil), "", c); rec.Code != http.StatusOK {
			t.Fatalf("before expiry: %d", rec.Code)
		}
		f.clock.Advance(time.Minute)
		if rec := f.do(httptest.NewRequest("GET", "/admin/metrics", nil), "", c); rec.Code != http.StatusUnauthorized {
			t.Fatalf("at expiry: %d, want 401", rec.Code)
		}
	})

	t.Run("logout", func(t *testing.T) {
		c := f.login(t)
		bad := httptest.NewRequest("POST", "/admin/logout", nil)
		bad.Header.Set("Origin", "http://evil.example")
		if rec := f.do(bad, "", c); rec.Code != http.StatusForbidden {
			t.Fatalf("cross-origin logout: %d, want 403", rec.Code)
		}
		if rec := f.do(httptest.NewRequest("GET", "/admin/metrics", nil), "", c); rec.Code != http.StatusOK {
			t.Fatalf("a refused logout ended the session: %d", rec.Code)
		}
		r := httptest.NewRequest("POST", "/admin/logout", nil)
		r.Header.Set("Content-Type", "application/json")
		rec := f.do(r, "", c)
		if rec.Code != http.StatusOK {
			t.Fatalf("logout: %d %s", rec.Code, rec.Body)
		}
		if cleared := sessionCookie(t, rec); cleared.MaxAge >= 0 || cleared.Value != "" {
			t.Errorf("logout left the cookie %+v", cleared)
		}
		if rec := f.do(httptest.NewRequest("GET", "/admin/metrics", nil), "", c); rec.Code != http.StatusUnauthorized {
			t.Fatalf("the old cookie after logout: %d, want 401", rec.Code)
		}
		if rec := f.do(formLogin(testUser, testPassword), "", nil); rec.Code != http.StatusSeeOther {
			t.Fatalf("login again: %d", rec.Code)
		}
	})
}

func TestAdminPage(t *testing.T) {
	f := newAdminFixture(t, AdminConfig{})
	c := f.login(t)
	tests := []struct {
		name   string
		path   string
		cookie *http.Cookie
		status int
		want   string
	}{
		{"login form", "/admin", nil, http.StatusOK, `data-testid="login-password"`},
		{"dashboard", "/admin", c, http.StatusOK, `data-testid="messages-in-rate"`},
		{"trailing slash", "/admin/", c, http.StatusSeeOther, ""},
		{"unknown path", "/admin/nothing", c, http.StatusNotFound, `"error"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(httptest.NewRequest("GET", tt.path, nil), "", tt.cookie)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("got %d %.200s, want %d with %q", rec.Code, rec.Body, tt.status, tt.want)
			}
			if tt.status == http.StatusOK && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("no CSP on the page: %v", rec.Header())
			}
		})
	}
}

// TestAdminMetrics checks that /admin/metrics is the text of /metrics.
func TestAdminMetrics(t *testing.T) {
	f := newAdminFixture(t, AdminConfig{})
	c := f.login(t)
	rec := f.do(httptest.NewRequest("GET", "/admin/metrics", nil), "", c)
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	direct := httptest.NewRecorder()
	f.metrics.ServeHTTP(direct, httptest.NewRequest("GET", "/metrics", nil))
	// The Go runtime's numbers move between two scrapes; Herald's do not
	// on an idle node.
	herald := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "herald_") || strings.HasPrefix(l, "# TYPE herald_") {
				out = append(out, l)
			}
		}
		return out
	}
	got, want := herald(rec.Body.String()), herald(direct.Body.String())
	if len(want) < 10 || !slices.Equal(got, want) {
		t.Fatalf("/admin/metrics:\n%s\nwant the lines of /metrics:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, name := range []string{"herald_nodes 1", "herald_connections 0", "# TYPE herald_delivery_latency_seconds histogram"} {
		if !slices.Contains(got, name) {
			t.Errorf("%q missing", name)
		}
	}
}

// TestAdminInspector reads a channel's list entry, presence and history
// through /admin/api/ from a node with a subscriber and a message.
func TestAdminInspector(t *testing.T) {
	f := newAdminFixture(t, AdminConfig{})
	c := f.login(t)
	bob := wstest.Auth(t, f.srv.URL, testserver.Token(t, "bob", "chat.>"))
	bob.Send(map[string]any{"type": "subscribe", "channel": "chat.1"})
	bob.Expect(protocol.TypeSubscribed)
	bob.Send(map[string]any{"type": "publish", "id": "m1", "channel": "chat.1", "event": "message.new", "payload": map[string]string{"text": "hi"}})
	// The message and its ack come in either order to a subscribed publisher.
	for f := bob.Read(); f.Type != protocol.TypeAck; f = bob.Read() {
		if f.Type != protocol.TypeMessage {
			t.Fatalf("got %+v, want the message or its ack", f)
		}
	}

	tests := []struct {
		name, method, path string
		status             int
		want               string
	}{
		{"channels", "GET", "/admin/api/channels", http.StatusOK, `"name":"chat.1","subscribers":1`},
		{"presence", "GET", "/admin/api/presence?channel=chat.1", http.StatusOK, `"userId":"bob"`},
		{"history", "GET", "/admin/api/history?channel=chat.1&limit=20&before=9007199254740991", http.StatusOK, `"payload":{"text":"hi"}`},
		{"history without a channel", "GET", "/admin/api/history", http.StatusBadRequest, `"code":"bad_request"`},
		{"reserved channel", "GET", "/admin/api/presence?channel=$user.bob", http.StatusForbidden, `"code":"forbidden"`},
		{"not an inspector read", "GET", "/admin/api/info", http.StatusNotFound, `"error"`},
		{"no writes", "POST", "/admin/api/channels", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(httptest.NewRequest(tt.method, tt.path, nil), "", c)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status || !strings.Contains(string(body), tt.want) {
				t.Fatalf("got %d %s, want %d with %q", rec.Code, body, tt.status, tt.want)
			}
		})
	}
}
