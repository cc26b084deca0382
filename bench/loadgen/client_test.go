package loadgen_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

type counter struct {
	loadgen.NopHandler
	messages, acks atomic.Int64
	closes         chan int
}

func (c *counter) Message(*loadgen.Client, *loadgen.Message) { c.messages.Add(1) }
func (c *counter) Ack(*loadgen.Client, []byte, uint64)       { c.acks.Add(1) }
func (c *counter) Closed(_ *loadgen.Client, code int)        { c.closes <- code }

func token(t *testing.T, sub string, channels ...string) string {
	t.Helper()
	tok, err := auth.Mint(testserver.Secret, sub, channels, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestClientsSubscribePublishAndClose(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, append(testserver.LeakOptions(), ignore)...) }) // runs last, after the server stops
	srv := testserver.Start(t, testserver.Options{})
	e, err := loadgen.NewEngine(loadgen.Config{URL: srv.URL, ConnsPerSource: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	h := &counter{closes: make(chan int, 16)}
	const n = 10
	subs, err := e.Connect(ctx, n, func(i int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: token(t, "u", "room.>"), Channels: []string{"room.1", "room.2"}}, nil
	}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := e.Connect(ctx, 1, func(int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: token(t, "p", "room.>")}, nil
	}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := pub[0].Publish("p"+string(rune('a'+i)), "room.1", "e", []byte(`{"i":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub[0].Publish("q", "room.2", "", []byte(`2`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.messages.Load() < 6*n || h.acks.Load() < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages and %d acks, want %d and 6", h.messages.Load(), h.acks.Load(), 6*n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range subs {
		st := c.Subs()
		if st[0].Last != 5 || st[1].Last != 1 || st[0].Lost+st[1].Lost+st[0].Duplicated+st[1].Duplicated != 0 {
			t.Fatalf("client %d: %+v", c.Index, st)
		}
	}
	if st := e.Stats(); st.SlowFrames > uint64(3*n+1) {
		t.Errorf("%d frames took the slow path; only auth_ok and subscribed should", st.SlowFrames)
	}

	// A publish the token does not grant is an error frame, counted.
	if err := pub[0].Publish("x", "other.1", "", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if n, last := pub[0].Errors(); n == 1 {
			if last == "" {
				t.Fatal("no error message kept")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error frame counted")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The server's close code reaches the handler.
	srv.Hub.Shutdown(ctx, protocol.CloseGoingAway)
	for range n + 1 {
		select {
		case code := <-h.closes:
			if code != protocol.CloseGoingAway {
				t.Fatalf("close code %d, want %d", code, protocol.CloseGoingAway)
			}
		case <-ctx.Done():
			t.Fatal("clients did not see the close")
		}
	}
	if err := loadgen.WaitClosed(ctx, append(subs, pub...)); err != nil {
		t.Fatal(err)
	}
}

func TestConnectFailsOnRejectedToken(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{AuthTimeout: time.Second}})
	e, err := loadgen.NewEngine(loadgen.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = e.Connect(ctx, 3, func(i int) (loadgen.Spec, error) {
		if i == 1 {
			return loadgen.Spec{Token: "not-a-jwt"}, nil
		}
		return loadgen.Spec{Token: token(t, "u", "a.>"), Channels: []string{"a.1"}}, nil
	}, loadgen.NopHandler{}, nil)
	if err == nil {
		t.Fatal("Connect succeeded with a bad token")
	}
	t.Log(err)
}

func TestConnectFailsWithoutServer(t *testing.T) {
	e, err := loadgen.NewEngine(loadgen.Config{URL: "ws://127.0.0.1:1/ws", DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = e.Connect(context.Background(), 2, func(int) (loadgen.Spec, error) { return loadgen.Spec{Token: "x"}, nil }, loadgen.NopHandler{}, nil)
	if err == nil {
		t.Fatal("Connect succeeded with no server")
	}
	t.Log(err)
}

func TestClientsResumeFromLastSeq(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	// The engine's own URL goes nowhere: every Spec names the node.
	e, err := loadgen.NewEngine(loadgen.Config{URL: "ws://127.0.0.1:1/ws"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := &counter{closes: make(chan int, 16)}
	pub, err := e.Connect(ctx, 1, func(int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: token(t, "p", "room.>"), URL: srv.URL}, nil
	}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := pub[0].Publish("p"+string(rune('a'+i)), "room.1", "", []byte(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); h.acks.Load() < 5; {
		if time.Now().After(deadline) {
			t.Fatalf("%d acks, want 5", h.acks.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	tests := []struct {
		name      string
		lastSeq   []uint64
		messages  uint64
		recovered bool
	}{
		{"live", nil, 0, false},
		{"behind", []uint64{2}, 3, true},
		{"from the start", []uint64{0}, 5, true},
		{"up to date", []uint64{5}, 0, true},
		{"ahead of the log", []uint64{9}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := e.Connect(ctx, 1, func(int) (loadgen.Spec, error) {
				return loadgen.Spec{Token: token(t, "u", "room.>"), Channels: []string{"room.1"}, LastSeq: tc.lastSeq, URL: srv.URL}, nil
			}, h, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs[0].Close()
			want := loadgen.SubStats{Channel: "room.1", Last: 5, Messages: tc.messages, Head: 5, Resumed: tc.lastSeq != nil, Recovered: tc.recovered, Subscribes: 1}
			for deadline := time.Now().Add(5 * time.Second); cs[0].Subs()[0].Messages < tc.messages; {
				if time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if got := cs[0].Subs()[0]; got != want {
				t.Fatalf("stats %+v, want %+v", got, want)
			}
		})
	}
}

// presenceCounter keeps the presence frames each client got.
type presenceCounter struct {
	loadgen.NopHandler
	mu     sync.Mutex
	frames map[int][]loadgen.Presence // by client index, Channel cleared
}

func (p *presenceCounter) Presence(c *loadgen.Client, f *loadgen.Presence) {
	if string(f.Channel) != "room.p" {
		panic("presence of " + string(f.Channel))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	g := *f
	g.Channel = nil
	p.frames[c.Index] = append(p.frames[c.Index], g)
}

// last returns client i's last presence frame and how many it got.
func (p *presenceCounter) last(i int) (loadgen.Presence, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := p.frames[i]
	if len(fs) == 0 {
		return loadgen.Presence{}, 0
	}
	return fs[len(fs)-1], len(fs)
}

func TestClientsLeaveAndRejoinWithPresence(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{PresenceInterval: 20 * time.Millisecond}})
	e, err := loadgen.NewEngine(loadgen.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h := &presenceCounter{frames: map[int][]loadgen.Presence{}}
	const n = 3
	cs, err := e.Connect(ctx, n, func(i int) (loadgen.Spec, error) {
		return loadgen.Spec{Token: token(t, "u"+strconv.Itoa(i), "room.>"), Channels: []string{"room.p"}, Presence: true}, nil
	}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	// waitFor waits until cond holds.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %v", what, h.frames)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// counts tells whether every client of idx last saw count users.
	counts := func(count int, idx ...int) func() bool {
		return func() bool {
			for _, i := range idx {
				if p, _ := h.last(i); p.Count != count {
					return false
				}
			}
			return true
		}
	}
	waitFor("everyone seeing 3 users", counts(3, 0, 1, 2))
	// A subscription starts with a presence_state (a diff may follow
	// that repeats what it showed).
	h.mu.Lock()
	for i := range n {
		if f := h.frames[i][0]; !f.State || f.Size == 0 {
			t.Errorf("client %d began with %+v, not a presence_state", i, f)
		}
	}
	h.mu.Unlock()

	if err := cs[0].Unsubscribe(0); err != nil {
		t.Fatal(err)
	}
	waitFor("the others seeing 2 users", counts(2, 1, 2))
	if p, _ := h.last(1); p.State {
		t.Fatalf("a leave came as %+v, want a presence_diff", p)
	}
	_, before := h.last(0)
	time.Sleep(100 * time.Millisecond) // nothing comes while away
	if _, k := h.last(0); k != before {
		t.Fatalf("%d presence frames after the unsubscribe", k-before)
	}
	if err := cs[0].Resubscribe(0); err != nil {
		t.Fatal(err)
	}
	waitFor("everyone seeing 3 users again", counts(3, 0, 1, 2))
	h.mu.Lock()
	if f := h.frames[0][before]; !f.State {
		t.Errorf("the rejoined client began with %+v, not a presence_state", f)
	}
	h.mu.Unlock()
	want := loadgen.SubStats{Channel: "room.p", Subscribes: 2, Unsubscribes: 1}
	waitFor("the subscribed frame", func() bool { return cs[0].Subs()[0].Subscribes == 2 })
	if got := cs[0].Subs()[0]; got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	if st := e.Stats(); st.SlowFrames > 3*n+2 {
		t.Errorf("%d frames took the slow path; presence frames should not", st.SlowFrames)
	}
	loadgen.CloseAll(cs)
	if err := loadgen.WaitClosed(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := cs[1].Resubscribe(0); err == nil {
		t.Fatal("Resubscribe on a closed client succeeded")
	}
}
