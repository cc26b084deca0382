package hub

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/protocol"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// recConn is a Conn that records what the hub writes. The transports'
// own tests run the hub over real sockets; this one isolates the hub's
// timing rules.
type recConn struct {
	mu     sync.Mutex
	frames []protocol.Frame
	pings  int
	closed int // close code, 0 if none
	abort  bool
	sess   *Session
}

// end reports the connection's end to the hub, as a transport does once
// the socket is gone.
func (c *recConn) end() {
	if c.sess != nil {
		go c.sess.Closed()
	}
}

func (c *recConn) Write(frames []*Frame) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range frames {
		var pf protocol.Frame
		if err := json.Unmarshal(f.JSON, &pf); err != nil {
			panic(err)
		}
		c.frames = append(c.frames, pf)
	}
	return 0, nil
}
func (c *recConn) Pending() int { return 0 }
func (c *recConn) Ping() error  { c.mu.Lock(); c.pings++; c.mu.Unlock(); return nil }
func (c *recConn) Close(code int, _ string) {
	c.mu.Lock()
	c.closed = code
	c.mu.Unlock()
	c.end()
}
func (c *recConn) Abort()             { c.mu.Lock(); c.abort = true; c.mu.Unlock(); c.end() }
func (c *recConn) RemoteAddr() string { return "test" }

func (c *recConn) types() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.frames {
		out = append(out, f.Type)
	}
	return out
}

var secret = []byte("hub-test-secret-0123456789abcdef")

func newHub(t *testing.T, clock *fakeClock) *Hub { return newBenchHub(t, clock) }

func newBenchHub(t testing.TB, clock *fakeClock) *Hub {
	t.Helper()
	b, err := membroker.New(membroker.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secrets: [][]byte{secret}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{Clock: clock, SweepInterval: time.Hour, TokenExpiryGrace: time.Millisecond}, b, v)
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx, protocol.CloseServiceRestart); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		_ = b.Close(context.Background())
	})
	return h
}

func login(t *testing.T, h *Hub, clock *fakeClock, ttl time.Duration) (*Session, *recConn) {
	t.Helper()
	c := &recConn{}
	s := h.NewSession(c)
	c.sess = s
	tok, err := auth.Mint(secret, "alice", []string{"chat.>"}, ttl, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.HandleMessage([]byte(`{"type":"auth","token":"` + tok + `"}`))
	if got := c.types(); len(got) != 1 || got[0] != protocol.TypeAuthOK {
		t.Fatalf("auth answered %v", got)
	}
	return s, c
}

// TestSweep walks a session through the sweeper's rules with a clock the
// test moves: auth deadline, pings on silence, dropping the silent, token
// expiry warning and expiry.
func TestSweep(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	type step struct {
		after     time.Duration // clock advance before the sweep
		touch     bool          // the client sends something first
		wantPings int
		wantClose int
		wantAbort bool
		wantLast  string // type of the last frame written, if any
	}
	tests := []struct {
		name  string
		authd bool
		ttl   time.Duration
		steps []step
	}{
		{"auth deadline", false, 0, []step{
			{after: 4 * time.Second},
			{after: time.Second, wantClose: protocol.CloseAuthFailed},
		}},
		{"ping on silence, once per interval", true, time.Hour, []step{
			{after: 24 * time.Second},
			{after: time.Second, wantPings: 1},
			{after: 5 * time.Second, wantPings: 1},
		}},
		{"traffic postpones the ping", true, time.Hour, []step{
			{after: 20 * time.Second, touch: true},
			{after: 10 * time.Second},
			{after: 15 * time.Second, wantPings: 1},
		}},
		{"silent past the pong timeout is dropped", true, time.Hour, []step{
			{after: 25 * time.Second, wantPings: 1},
			{after: 10 * time.Second, wantPings: 1, wantAbort: true},
		}},
		{"token expiry warning, then expiry", true, 90 * time.Second, []step{
			{after: 29 * time.Second, touch: true},
			{after: 2 * time.Second, wantLast: protocol.TypeTokenExpiring},
			{after: 10 * time.Second, touch: true, wantLast: protocol.TypeTokenExpiring},
			{after: 50 * time.Second, touch: true, wantClose: protocol.CloseAuthFailed, wantLast: protocol.TypeError},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: start}
			h := newHub(t, clock)
			var s *Session
			var c *recConn
			if tt.authd {
				s, c = login(t, h, clock, tt.ttl)
			} else {
				c = &recConn{}
				s = h.NewSession(c)
				c.sess = s
			}
			for i, st := range tt.steps {
				clock.add(st.after)
				if st.touch {
					s.Touch()
				}
				h.sweep(clock.Now())
				c.mu.Lock()
				pings, closed, abort := c.pings, c.closed, c.abort
				last := ""
				if len(c.frames) > 0 {
					last = c.frames[len(c.frames)-1].Type
				}
				c.mu.Unlock()
				if pings != st.wantPings || closed != st.wantClose || abort != st.wantAbort {
					t.Fatalf("step %d: pings %d close %d abort %v; want %d, %d, %v", i, pings, closed, abort, st.wantPings, st.wantClose, st.wantAbort)
				}
				if st.wantLast != "" && last != st.wantLast {
					t.Fatalf("step %d: last frame %s, want %s", i, last, st.wantLast)
				}
			}
		})
	}
}

// TestExpiryWarningOnce: token_expiring goes out once per token, and again
// after a refresh with a token that nears expiry too.
func TestExpiryWarningOnce(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	h := newHub(t, clock)
	s, c := login(t, h, clock, 2*time.Minute)
	count := func() int {
		n := 0
		for _, typ := range c.types() {
			if typ == protocol.TypeTokenExpiring {
				n++
			}
		}
		return n
	}
	for range 10 {
		clock.add(7 * time.Second)
		s.Touch()
		h.sweep(clock.Now())
	}
	if n := count(); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	tok, _ := auth.Mint(secret, "alice", []string{"chat.>"}, 90*time.Second, clock.Now())
	s.HandleMessage([]byte(`{"type":"auth","token":"` + tok + `"}`))
	clock.add(35 * time.Second)
	s.Touch()
	h.sweep(clock.Now())
	if n := count(); n != 2 {
		t.Fatalf("%d warnings after a refresh with a short token, want 2", n)
	}
}
