package heraldclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// TestMain fails the package if any test leaves a goroutine behind: a
// closed Client must leave none. Two known exceptions belong to the test
// tools, not to the SDK: nbio's process-wide worker pool, started at init by
// the in-process server, and toxiproxy's goroutines: its latency toxic
// blocks forever sending to a link whose writer exited when the proxy cut
// the connection (toxiproxy v2.12.0 toxics/latency.go:44), and the links
// of a cut connection may still be winding down when the tests end.
func TestMain(m *testing.M) {
	opts := append(testserver.LeakOptions(),
		goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*LatencyToxic).Pipe"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).write"),
		goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/stream.(*ChanWriter).Write"))
	goleak.VerifyTestMain(m, opts...)
}

// The tests do not run in parallel: transport/ws.New sets nbio's
// process-wide logger, so two in-process servers started at the same time
// race (a server bug, reported; not the SDK's).

// waitTimeout bounds every wait in these tests; nothing should come near it.
const waitTimeout = 10 * time.Second

// mint returns a token. It is safe to call from any goroutine, unlike
// testserver.Token, which may call t.Fatal.
func mint(sub string, ttl time.Duration, channels ...string) string {
	tok, err := auth.Mint(testserver.Secret, sub, channels, ttl, time.Now())
	if err != nil {
		panic(err)
	}
	return tok
}

// staticToken is a token provider for an hour-long token.
func staticToken(sub string, channels ...string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return mint(sub, time.Hour, channels...), nil }
}

// stateLog records a client's state changes.
type stateLog struct {
	mu       sync.Mutex
	changes  []stateChange
	connects atomic.Int32
	notify   chan stateChange
}

type stateChange struct {
	state heraldclient.State
	cause error
	at    time.Time
}

func newStateLog() *stateLog { return &stateLog{notify: make(chan stateChange, 1024)} }

func (l *stateLog) record(s heraldclient.State, cause error) {
	ch := stateChange{s, cause, time.Now()}
	l.mu.Lock()
	l.changes = append(l.changes, ch)
	l.mu.Unlock()
	if s == heraldclient.StateConnected {
		l.connects.Add(1)
	}
	select {
	case l.notify <- ch:
	default:
	}
}

// waitFor waits for a change to state and returns it.
func (l *stateLog) waitFor(t *testing.T, state heraldclient.State, timeout time.Duration) stateChange {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ch := <-l.notify:
			if ch.state == state {
				return ch
			}
		case <-deadline:
			t.Fatalf("no change to %v within %v", state, timeout)
		}
	}
}

// newClient makes a client for url that is closed when the test ends.
func newClient(t *testing.T, url string, token func(context.Context) (string, error), tweak func(*heraldclient.Config)) (*heraldclient.Client, *stateLog) {
	t.Helper()
	states := newStateLog()
	cfg := heraldclient.Config{
		URL:           url,
		Token:         token,
		Logger:        testLogger(t),
		OnStateChange: states.record,
		BackoffMin:    20 * time.Millisecond,
		BackoffMax:    500 * time.Millisecond,
		DialTimeout:   2 * time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := heraldclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, states
}

// connected makes a client and connects it.
func connected(t *testing.T, url string, token func(context.Context) (string, error), tweak func(*heraldclient.Config)) (*heraldclient.Client, *stateLog) {
	t.Helper()
	c, states := newClient(t, url, token, tweak)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return c, states
}

func subscribe(t *testing.T, c *heraldclient.Client, channel string, opts heraldclient.SubscribeOptions) *heraldclient.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sub, err := c.Subscribe(ctx, channel, opts)
	if err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return sub
}

func publish(t *testing.T, c *heraldclient.Client, channel string, payload any, opts ...heraldclient.PublishOption) heraldclient.Ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ack, err := c.Publish(ctx, channel, "message.new", payload, opts...)
	if err != nil {
		t.Fatalf("publish to %s: %v", channel, err)
	}
	return ack
}

// recv reads the next element of sub's stream.
func recv(t *testing.T, sub *heraldclient.Subscription) heraldclient.Message {
	t.Helper()
	select {
	case m, ok := <-sub.Messages():
		if !ok {
			t.Fatalf("%s: stream closed: %v", sub.Channel(), sub.Err())
		}
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("%s: no message within %v", sub.Channel(), waitTimeout)
	}
	panic("unreachable")
}

// expectSeqs reads messages and fails unless they carry exactly the seqs
// from..to, in order.
func expectSeqs(t *testing.T, sub *heraldclient.Subscription, from, to uint64) []heraldclient.Message {
	t.Helper()
	var out []heraldclient.Message
	for seq := from; seq <= to; seq++ {
		m := recv(t, sub)
		if m.SnapshotRequired != nil {
			t.Fatalf("unexpected snapshot_required %+v", *m.SnapshotRequired)
		}
		if m.Seq != seq {
			t.Fatalf("got seq %d, want %d", m.Seq, seq)
		}
		out = append(out, m)
	}
	return out
}

// expectQuiet fails if sub delivers anything within d.
func expectQuiet(t *testing.T, sub *heraldclient.Subscription, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-sub.Messages():
		if ok {
			t.Fatalf("unexpected message seq %d", m.Seq)
		}
	case <-time.After(d):
	}
}

// history reads a channel's whole retained log with a raw protocol
// client, straight from the server: subscribe with lastSeq 0.
func history(t *testing.T, url, channel string) []protocol.Frame {
	t.Helper()
	raw := wstest.Auth(t, url, testserver.Token(t, "auditor", ">"))
	defer raw.Conn.CloseNow()
	raw.Send(map[string]any{"type": "subscribe", "id": "h", "channel": channel, "lastSeq": 0})
	head := raw.Expect(protocol.TypeSubscribed).Seq
	var msgs []protocol.Frame
	for uint64(len(msgs)) < head {
		msgs = append(msgs, raw.Expect(protocol.TypeMessage))
	}
	return msgs
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// tWriter sends log lines to t.Log, which shows them with the failing
// test; it drops them once the test is over.
type tWriter struct{ t *testing.T }

var logMu sync.Mutex

func (w tWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// proxy is an in-process toxiproxy between clients and a test server, to
// cut connections and degrade the network.
type proxy struct {
	*toxiproxy.Proxy
	URL string
}

func newProxy(t *testing.T, srv *testserver.Server) *proxy {
	t.Helper()
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "herald", "127.0.0.1:0", srv.Addr())
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return &proxy{Proxy: p, URL: "ws://" + p.Listen + "/ws"}
}

// cut drops every connection through the proxy; new ones are accepted
// again at once.
func (p *proxy) cut(t *testing.T) {
	t.Helper()
	p.Stop()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
}

func (p *proxy) addToxic(t *testing.T, name, typ, stream string, attrs map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "attributes": attrs})
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
		t.Fatalf("add toxic %s: %v", name, err)
	}
}

func (p *proxy) removeToxic(t *testing.T, name string) {
	t.Helper()
	if err := p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("remove toxic %s: %v", name, err)
	}
}

// isCode reports whether err is a server *Error with the code.
func isCode(err error, code protocol.Code) bool {
	var e *heraldclient.Error
	return errors.As(err, &e) && e.Code == code
}

func text(i int) map[string]any { return map[string]any{"text": fmt.Sprint("m", i)} }
