package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/webhook"
)

// notification is what a test expects the backend to hear.
type notification struct {
	event, channel string
	code           int
}

// TestNotifications checks that unsubscribes and disconnects reach the
// backend with the right channel and close code.
func TestNotifications(t *testing.T) {
	cases := []struct {
		name string
		// act runs after alice subscribed to chat.1 and chat.2.
		act  func(t *testing.T, c *wstest.Client)
		want []notification
	}{
		{
			name: "unsubscribe",
			act: func(t *testing.T, c *wstest.Client) {
				c.Send(map[string]any{"type": "unsubscribe", "channel": "chat.1"})
				c.Expect(protocol.TypeUnsubscribed)
			},
			want: []notification{{webhook.EventUnsubscribe, "chat.1", 0}},
		},
		{
			name: "client closes with 1000",
			act: func(t *testing.T, c *wstest.Client) {
				if err := c.Conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
					t.Fatal(err)
				}
			},
			want: []notification{
				{webhook.EventUnsubscribe, "chat.1", 0}, {webhook.EventUnsubscribe, "chat.2", 0},
				{webhook.EventDisconnect, "", protocol.CloseNormal},
			},
		},
		{
			name: "connection cut",
			act:  func(t *testing.T, c *wstest.Client) { c.Drop() },
			want: []notification{
				{webhook.EventUnsubscribe, "chat.1", 0}, {webhook.EventUnsubscribe, "chat.2", 0},
				{webhook.EventDisconnect, "", protocol.CloseAbnormal},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, byEvent(allowAll))
			h := newHooks(t, webhook.Config{URL: b.srv.URL})
			srv := node{}.start(t, h)

			c := wstest.Dial(t, srv.URL)
			c.Send(map[string]any{"type": "auth", "token": testserver.Token(t, "alice", "chat.>")})
			ok := c.Expect(protocol.TypeAuthOK)
			for _, ch := range []string{"chat.1", "chat.2"} {
				c.Send(map[string]any{"type": "subscribe", "channel": ch})
				c.Expect(protocol.TypeSubscribed)
			}
			tc.act(t, c)

			var got []received
			waitFor(t, "the notifications", func() bool {
				got = append(b.requests(webhook.EventUnsubscribe), b.requests(webhook.EventDisconnect)...)
				return len(got) >= len(tc.want)
			})
			want := slices.Clone(tc.want)
			for _, r := range got {
				n := notification{r.Req.Event, r.Req.Channel, r.Req.Code}
				i := slices.Index(want, n)
				if i < 0 {
					t.Errorf("unexpected %+v", n)
					continue
				}
				want = slices.Delete(want, i, i+1)
				if r.Req.Client.UserID != "alice" || r.Req.Client.ConnectionID != ok.ConnectionID {
					t.Errorf("%+v is about %+v, want alice on %s", n, r.Req.Client, ok.ConnectionID)
				}
			}
			if len(want) > 0 {
				t.Errorf("missing %+v", want)
			}
		})
	}
}

// TestRefusedConnectIsNotReported checks that a connection the backend
// refused is never reported as disconnected: it was never connected.
func TestRefusedConnectIsNotReported(t *testing.T) {
	b := newBackend(t, func(_ context.Context, req webhook.Request, _ int) (int, string) {
		if req.Event == webhook.EventConnect && req.Client.UserID == "mallory" {
			return 200, `{"result":"deny"}`
		}
		return 200, `{"result":"allow"}`
	})
	// One worker sends in queue order, so alice's disconnect comes after
	// any that mallory's connection could have caused.
	h := newHooks(t, webhook.Config{URL: b.srv.URL, NotifyWorkers: 1})
	srv := node{connectHook: true}.start(t, h)

	m := wstest.Dial(t, srv.URL)
	m.Send(map[string]any{"type": "auth", "token": testserver.Token(t, "mallory", "chat.>")})
	m.ExpectError(protocol.CodeForbidden)
	m.ExpectClose(protocol.CloseForbidden, 5*time.Second)

	a := wstest.Auth(t, srv.URL, testserver.Token(t, "alice", "chat.>"))
	a.Drop()
	waitFor(t, "alice's disconnect", func() bool { return b.answeredCount(webhook.EventDisconnect) == 1 })
	for _, r := range b.requests(webhook.EventDisconnect) {
		if r.Req.Client.UserID != "alice" {
			t.Errorf("disconnect of %s reported", r.Req.Client.UserID)
		}
	}
}

// TestSlowBackendDoesNotSlowTheHub holds every notification at the
// backend, unanswered, while a new client connects (asking the backend),
// subscribes, publishes and gets its ack: the hub never waits for a
// notification, and decisions do not queue behind them.
func TestSlowBackendDoesNotSlowTheHub(t *testing.T) {
	g := newGate()
	b := newBackend(t, func(ctx context.Context, req webhook.Request, _ int) (int, string) {
		switch req.Event {
		case webhook.EventDisconnect, webhook.EventUnsubscribe:
			if !g.wait(ctx) {
				return 0, ""
			}
			return 200, ""
		}
		return 200, `{"result":"allow"}`
	})
	h := newHooks(t, webhook.Config{URL: b.srv.URL})
	t.Cleanup(g.open) // before Close, whatever happens
	srv := node{connectHook: true}.start(t, h)

	const leavers = 6 // each one unsubscribe and one disconnect
	for i := range leavers {
		c := wstest.Auth(t, srv.URL, testserver.Token(t, "u"+strconv.Itoa(i), "chat.>"))
		c.Send(map[string]any{"type": "subscribe", "channel": "chat.1"})
		c.Expect(protocol.TypeSubscribed)
		c.Drop()
	}
	waitFor(t, "the notifications to be taken up", func() bool {
		return len(b.requests(webhook.EventDisconnect))+len(b.requests(webhook.EventUnsubscribe)) == webhook.DefaultNotifyWorkers &&
			h.Pending() == 2*leavers-webhook.DefaultNotifyWorkers
	})

	bob := wstest.Auth(t, srv.URL, testserver.Token(t, "bob", "chat.>"))
	bob.Send(map[string]any{"type": "subscribe", "channel": "chat.1"})
	bob.Expect(protocol.TypeSubscribed)
	bob.Send(map[string]any{"type": "publish", "id": "p1", "channel": "chat.1", "payload": 1})
	// The ack and bob's own message, in either order.
	if f1, f2 := bob.Read(), bob.Read(); f1.Type+f2.Type != protocol.TypeAck+protocol.TypeMessage && f1.Type+f2.Type != protocol.TypeMessage+protocol.TypeAck {
		t.Fatalf("got %s and %s, want an ack and a message", f1.Type, f2.Type)
	}
	if n := b.answeredCount(webhook.EventDisconnect) + b.answeredCount(webhook.EventUnsubscribe); n != 0 {
		t.Fatalf("%d notifications were answered before bob was served; the test proves nothing", n)
	}

	g.open()
	waitFor(t, "every notification", func() bool { return h.Stats.NotificationsSent.Load() == 2*leavers })
	if n := h.Stats.NotificationsDropped.Load() + h.Stats.NotificationsFailed.Load(); n != 0 {
		t.Errorf("%d notifications dropped or failed", n)
	}
}

// TestNotifyRetries checks which answers to a notification are retried.
func TestNotifyRetries(t *testing.T) {
	cases := []struct {
		name     string
		cfg      webhook.Config
		script   script
		attempts int
		sent     uint64
	}{
		{
			name: "500 twice, then 200",
			script: func(_ context.Context, _ webhook.Request, attempt int) (int, string) {
				if attempt < 3 {
					return 500, ""
				}
				return 200, ""
			},
			attempts: 3, sent: 1,
		},
		{name: "any 2xx acknowledges", script: answer(204, ""), attempts: 1, sent: 1},
		{name: "gives up after NotifyRetries", cfg: webhook.Config{NotifyRetries: 2}, script: answer(500, ""), attempts: 3},
		{name: "429 is retried", cfg: webhook.Config{NotifyRetries: 1}, script: answer(429, ""), attempts: 2},
		{name: "a 4xx is final", script: answer(410, ""), attempts: 1},
		{name: "a timeout is retried", cfg: webhook.Config{NotifyRetries: 1, Timeout: 100 * time.Millisecond}, script: hang, attempts: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, tc.script)
			cfg := tc.cfg
			cfg.URL = b.srv.URL
			h := newHooks(t, cfg)
			h.Unsubscribed(hub.ClientInfo{ConnectionID: "c1", UserID: "alice", RemoteAddr: "192.0.2.1:1234"}, "chat.1")

			waitFor(t, "the notification to be settled", func() bool {
				return h.Stats.NotificationsSent.Load()+h.Stats.NotificationsFailed.Load() == 1
			})
			reqs := b.requests(webhook.EventUnsubscribe)
			if len(reqs) != tc.attempts {
				t.Fatalf("backend saw %d attempts, want %d", len(reqs), tc.attempts)
			}
			for i, r := range reqs {
				if r.Req.ID != reqs[0].Req.ID || r.Attempt != i+1 || r.Req.Timestamp != reqs[0].Req.Timestamp {
					t.Errorf("attempt %d: id %s attempt %d timestamp %d; want the first's id and timestamp, attempt %d",
						i+1, r.Req.ID, r.Attempt, r.Req.Timestamp, i+1)
				}
			}
			if got := h.Stats.NotificationsSent.Load(); got != tc.sent {
				t.Errorf("sent %d, want %d", got, tc.sent)
			}
			if got := h.Stats.Retries.Load(); got != uint64(tc.attempts-1) {
				t.Errorf("retries %d, want %d", got, tc.attempts-1)
			}
		})
	}
}

// TestNotifyQueueOverflow fills the queue behind a backend that holds the
// one notification in flight: the oldest queued ones are dropped and
// counted, the newest are sent.
func TestNotifyQueueOverflow(t *testing.T) {
	g := newGate()
	b := newBackend(t, func(ctx context.Context, _ webhook.Request, _ int) (int, string) {
		if !g.wait(ctx) {
			return 0, ""
		}
		return 200, ""
	})
	h := newHooks(t, webhook.Config{URL: b.srv.URL, NotifyWorkers: 1, NotifyQueue: 3})
	t.Cleanup(g.open)
	disconnect := func(i int) {
		h.Disconnected(hub.ClientInfo{ConnectionID: fmt.Sprintf("c%d", i), UserID: "alice"}, protocol.CloseNormal)
	}

	disconnect(1)
	waitFor(t, "c1 in flight", func() bool { return len(b.requests(webhook.EventDisconnect)) == 1 })
	for i := 2; i <= 6; i++ {
		disconnect(i) // c2 and c3 are pushed out by c5 and c6
	}
	if d, p := h.Stats.NotificationsDropped.Load(), h.Pending(); d != 2 || p != 3 {
		t.Errorf("dropped %d, pending %d; want 2 and 3", d, p)
	}
	g.open()
	waitFor(t, "the rest", func() bool { return h.Stats.NotificationsSent.Load() == 4 })
	var order []string
	for _, r := range b.requests(webhook.EventDisconnect) {
		order = append(order, r.Req.Client.ConnectionID)
	}
	if want := []string{"c1", "c4", "c5", "c6"}; !slices.Equal(order, want) {
		t.Errorf("backend got %v, want %v", order, want)
	}
}

// TestClose checks that Close sends what is queued, and that it stops at
// its deadline when the backend does not answer.
func TestClose(t *testing.T) {
	info := hub.ClientInfo{ConnectionID: "c1", UserID: "alice"}

	t.Run("drains the queue", func(t *testing.T) {
		b := newBackend(t, answer(200, ""))
		h := newHooks(t, webhook.Config{URL: b.srv.URL})
		for range 50 {
			h.Unsubscribed(info, "chat.1")
		}
		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := b.answeredCount(webhook.EventUnsubscribe); got != 50 {
			t.Errorf("backend answered %d of 50", got)
		}
		if err := h.Connect(context.Background(), info); !errors.Is(err, webhook.ErrClosed) {
			t.Errorf("Connect after Close: %v, want ErrClosed", err)
		}
	})

	t.Run("stops at its deadline", func(t *testing.T) {
		b := newBackend(t, hang)
		h := newHooks(t, webhook.Config{URL: b.srv.URL, NotifyWorkers: 2})
		for range 10 {
			h.Disconnected(info, protocol.CloseNormal)
		}
		waitFor(t, "two in flight", func() bool { return len(b.requests(webhook.EventDisconnect)) == 2 })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close: %v, want DeadlineExceeded", err)
		}
		h.Disconnected(info, protocol.CloseNormal) // after Close: dropped
		if d, f, s := h.Stats.NotificationsDropped.Load(), h.Stats.NotificationsFailed.Load(), h.Stats.NotificationsSent.Load(); d != 9 || f != 2 || s != 0 {
			t.Errorf("dropped %d failed %d sent %d; want 9, 2, 0", d, f, s)
		}
	})
}
