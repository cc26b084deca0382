package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testserver.LeakOptions()...) }

// testSecret signs every request in these tests.
var testSecret = []byte("whsec-test-0123456789abcdef")

// script answers one request to the test backend: the status and body.
// ctx ends when Herald gives up on the attempt.
type script func(ctx context.Context, req webhook.Request, attempt int) (int, string)

// received is one request the test backend got.
type received struct {
	Req     webhook.Request
	Body    []byte
	Header  http.Header
	Attempt int
	// SigErr is Verify's verdict on the request's signature.
	SigErr error
}

// backend is a real HTTP app backend, answering as the test scripts it.
// It checks the headers of every request, and, unless unsigned is set,
// that every request carried a valid signature.
type backend struct {
	t      *testing.T
	srv    *httptest.Server
	script script

	mu       sync.Mutex
	got      []received
	answered map[string]int // answers sent, by event
	// badSignatures is set by tests that expect requests whose
	// signature does not verify.
	badSignatures bool
}

func newBackend(t *testing.T, s script) *backend {
	t.Helper()
	b := &backend{t: t, script: s, answered: map[string]int{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	// Registered first, so it runs last: after the node has stopped and
	// the hooks have sent their last notifications.
	t.Cleanup(func() {
		b.srv.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, r := range b.got {
			if r.SigErr != nil && !b.badSignatures {
				t.Errorf("%s request %s: signature: %v", r.Req.Event, r.Req.ID, r.SigErr)
			}
		}
	})
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("User-Agent") != "Herald-Webhook/1" {
		b.t.Errorf("request %s %s, Content-Type %q, User-Agent %q", r.Method, r.URL, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"))
	}
	var req webhook.Request
	if err := json.Unmarshal(body, &req); err != nil {
		b.t.Errorf("request body %s: %v", body, err)
	}
	if r.Header.Get("Herald-Event") != req.Event || r.Header.Get("Herald-Delivery") != req.ID || req.ID == "" {
		b.t.Errorf("headers Herald-Event %q, Herald-Delivery %q for body %s", r.Header.Get("Herald-Event"), r.Header.Get("Herald-Delivery"), body)
	}
	attempt, _ := strconv.Atoi(r.Header.Get("Herald-Attempt"))
	rec := received{Req: req, Body: body, Header: r.Header.Clone(), Attempt: attempt,
		SigErr: webhook.Verify(testSecret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0)}
	b.mu.Lock()
	b.got = append(b.got, rec)
	b.mu.Unlock()

	status, answer := b.script(r.Context(), req, attempt)
	if status == 0 {
		return // the script gave up: Herald is gone
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
	b.mu.Lock()
	b.answered[req.Event]++
	b.mu.Unlock()
}

// requests returns the requests of an event received so far.
func (b *backend) requests(event string) []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []received
	for _, r := range b.got {
		if r.Req.Event == event {
			out = append(out, r)
		}
	}
	return out
}

// answeredCount returns how many requests of an event were answered.
func (b *backend) answeredCount(event string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.answered[event]
}

// waitFor polls until cond holds, and fails the test if it does not
// within 10s. It only bounds a failure; no assertion depends on timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Scripts.

func answer(status int, body string) script {
	return func(context.Context, webhook.Request, int) (int, string) { return status, body }
}

var allowAll = answer(200, `{"result":"allow"}`)

// hang never answers: it waits until Herald gives up on the attempt.
func hang(ctx context.Context, _ webhook.Request, _ int) (int, string) {
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
	}
	return 0, ""
}

// byEvent answers decisions with decide and notifications with 200.
func byEvent(decide script) script {
	return func(ctx context.Context, req webhook.Request, attempt int) (int, string) {
		switch req.Event {
		case webhook.EventDisconnect, webhook.EventUnsubscribe:
			return 200, ""
		}
		return decide(ctx, req, attempt)
	}
}

// gate holds requests until it is opened.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

// open lets every held request go; it may be called more than once.
func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// wait holds until the gate opens (true) or ctx ends (false).
func (g *gate) wait(ctx context.Context) bool {
	select {
	case <-g.ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// deadURL returns a URL where nothing listens: connection refused.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr + "/herald"
}

// newHooks makes Hooks for the test, signed with testSecret, and closes
// them when it ends; the close must send everything queued.
func newHooks(t *testing.T, cfg webhook.Config) *webhook.Hooks {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// node describes the Herald node of a test.
type node struct {
	connectHook bool
	hookTimeout time.Duration
	namespaces  map[string]hub.Namespace
}

// start runs a node with the hooks; it stops before the hooks close.
func (n node) start(t *testing.T, h *webhook.Hooks) *testserver.Server {
	t.Helper()
	// Every namespace reports unsubscribes, and every disconnect is
	// reported: the notification tests count on them.
	named := map[string]hub.Namespace{}
	for name, ns := range n.namespaces {
		ns.UnsubscribeHook = true
		named[name] = ns
	}
	return testserver.Start(t, testserver.Options{Hub: hub.Config{
		Hooks: h, ConnectHook: n.connectHook, DisconnectHook: true, HookTimeout: n.hookTimeout,
		Namespaces: hub.Namespaces{Default: hub.Namespace{UnsubscribeHook: true}, Named: named},
	}})
}
