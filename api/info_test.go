package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestInfo: GET /api/info reports the node's counters as they are.
func TestInfo(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	sub, _ := connect(t, srv, "alice", "chat.info")
	connect(t, srv, "bob")
	for i := 0; i < 3; i++ {
		c.post(t, "/api/publish", map[string]any{"channel": "chat.info", "payload": i}).expectOK(t)
		sub.Expect(protocol.TypeMessage)
	}
	// The server counts a delivery once its write returns, which may be
	// after the client read it: let the counters settle.
	var info api.InfoResponse
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		res := c.get(t, "/api/info")
		res.expectOK(t)
		res.decode(t, &info)
		if info.MessagesOut >= 3 || time.Now().After(deadline) {
			break
		}
	}
	want := api.InfoResponse{
		Version: "dev", UptimeSeconds: info.UptimeSeconds, Connections: 2, Authenticated: 2,
		Subscriptions: 1, Channels: 1, MessagesIn: 3, MessagesOut: 3, Nodes: 1, Answered: 1,
	}
	if info != want || info.UptimeSeconds < 0 {
		t.Fatalf("got %+v, want %+v", info, want)
	}
	// One node: scope=node reads the same counters.
	var node api.InfoResponse
	c.get(t, "/api/info?scope=node").decode(t, &node)
	if node.UptimeSeconds = info.UptimeSeconds; node != want {
		t.Fatalf("scope=node: got %+v, want %+v", node, want)
	}
	c.do(t, call{method: http.MethodGet, path: "/api/info?scope=all", doc: docRejects}).expectError(t, 400, protocol.CodeBadRequest)
	c.do(t, call{method: http.MethodGet, path: "/api/info?verbose=1", doc: docSilent}).expectError(t, 400, protocol.CodeBadRequest)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// serveAPI mounts a handler with cfg on the node's hub, for tests of
// settings that testserver leaves at their defaults.
func serveAPI(t *testing.T, srv *testserver.Server, cfg api.Config) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/api/", api.New(srv.Hub, cfg))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestInfoConfig: Version and Start are reported, uptime by the clock.
func TestInfoConfig(t *testing.T) {
	srv, _ := startNode(t, testserver.Options{})
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	base := serveAPI(t, srv, api.Config{
		Keys: api.NewKeys(testKey), Version: "1.2.3", Start: clock.Now().Add(-90 * time.Second), Clock: clock,
	})
	c := newClient(t, base, testKey)
	var info api.InfoResponse
	c.get(t, "/api/info").decode(t, &info)
	if info.Version != "1.2.3" || info.UptimeSeconds != 90 {
		t.Fatalf("got %+v, want version 1.2.3 and 90 s of uptime", info)
	}
}

// newLogger logs text to buf, under mu.
func newLogger(buf *bytes.Buffer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, buf}, nil))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestLogging: a server fault is logged and shown as internal with a
// generic message; the client's own errors are not logged.
func TestLogging(t *testing.T) {
	srv, _ := startNode(t, testserver.Options{})
	var logs bytes.Buffer
	var mu sync.Mutex
	base := serveAPI(t, srv, api.Config{Keys: api.NewKeys(testKey), Logger: newLogger(&logs, &mu)})
	c := newClient(t, base, testKey)
	c.do(t, call{method: http.MethodGet, path: "/api/history?channel=a..b", doc: docRejects}).expectError(t, 400, protocol.CodeBadRequest)
	mu.Lock()
	if logs.Len() != 0 {
		t.Errorf("a client error was logged: %s", logs.String())
	}
	mu.Unlock()

	// With the broker closed, the hub's calls fail inside: internal.
	srv.Stop()
	res := c.post(t, "/api/publish", map[string]any{"channel": "x.1", "payload": 1})
	res.expectError(t, http.StatusInternalServerError, protocol.CodeInternal)
	var e api.Error
	if err := json.Unmarshal(res.body, &e); err != nil || bytes.Contains(res.body, []byte("closed")) {
		t.Errorf("internal error %s shows the cause to the client", res.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Contains(logs.Bytes(), []byte("request failed")) || !bytes.Contains(logs.Bytes(), []byte("closed")) {
		t.Errorf("the fault was not logged with its cause: %q", logs.String())
	}
}
