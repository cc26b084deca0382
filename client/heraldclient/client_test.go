package heraldclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// TestBasic: connect, subscribe, publish, receive the own message, check
// the ack, dedupe by id, unsubscribe and close.
func TestBasic(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c, _ := connected(t, srv.URL, staticToken("alice", "chat.>"), nil)
	if c.State() != heraldclient.StateConnected || c.ConnectionID() == "" {
		t.Fatalf("state %v, connection id %q after Connect", c.State(), c.ConnectionID())
	}
	sub := subscribe(t, c, "chat.1", heraldclient.SubscribeOptions{})

	t.Run("own message and ack", func(t *testing.T) {
		before := time.Now()
		ack := publish(t, c, "chat.1", map[string]any{"text": "hi"})
		if ack.ID == "" || ack.Channel != "chat.1" || ack.Seq != 1 {
			t.Fatalf("ack %+v, want an id, channel chat.1, seq 1", ack)
		}
		if d := ack.Timestamp.Sub(before); d < -time.Second || d > time.Minute {
			t.Fatalf("ack timestamp %v is %v from the publish", ack.Timestamp, d)
		}
		m := recv(t, sub)
		if m.Channel != "chat.1" || m.Seq != ack.Seq || m.ID != ack.ID || m.Event != "message.new" ||
			m.From != "alice" || !m.Timestamp.Equal(ack.Timestamp) || m.SnapshotRequired != nil {
			t.Fatalf("message %+v does not match ack %+v", m, ack)
		}
		var p struct{ Text string }
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Text != "hi" {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
	})

	t.Run("same id is stored once", func(t *testing.T) {
		first := publish(t, c, "chat.1", text(2), heraldclient.WithID("fixed-id-2"))
		again := publish(t, c, "chat.1", text(2), heraldclient.WithID("fixed-id-2"))
		if again != first {
			t.Fatalf("retry got ack %+v, first was %+v", again, first)
		}
		if m := recv(t, sub); m.Seq != first.Seq || m.ID != "fixed-id-2" {
			t.Fatalf("got %+v", m)
		}
		expectQuiet(t, sub, 200*time.Millisecond)
	})

	t.Run("raw JSON payload", func(t *testing.T) {
		ack := publish(t, c, "chat.1", json.RawMessage(`[1, "two", {"three": 3}]`))
		if m := recv(t, sub); m.Seq != ack.Seq || string(m.Payload) != `[1,"two",{"three":3}]` {
			t.Fatalf("payload %s", m.Payload)
		}
		if last, ok := sub.LastSeq(); !ok || last != ack.Seq {
			t.Fatalf("LastSeq %d %v, want %d", last, ok, ack.Seq)
		}
	})

	t.Run("subscribe twice", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if _, err := c.Subscribe(ctx, "chat.1", heraldclient.SubscribeOptions{}); !errors.Is(err, heraldclient.ErrAlreadySubscribed) {
			t.Fatalf("got %v, want ErrAlreadySubscribed", err)
		}
	})

	t.Run("resume from lastSeq", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			publish(t, c, "chat.1.replay", text(i))
		}
		from := uint64(1)
		other := subscribe(t, c, "chat.1.replay", heraldclient.SubscribeOptions{LastSeq: &from})
		expectSeqs(t, other, 2, 3) // replayed
		publish(t, c, "chat.1.replay", text(4))
		expectSeqs(t, other, 4, 4) // live
	})

	t.Run("resume ahead of the log", func(t *testing.T) {
		from := uint64(7)
		other := subscribe(t, c, "chat.1.ahead", heraldclient.SubscribeOptions{LastSeq: &from})
		m := recv(t, other)
		if m.SnapshotRequired == nil || m.Seq != 0 {
			t.Fatalf("got %+v, want a SnapshotRequired at seq 0", m)
		}
		publish(t, c, "chat.1.ahead", text(1))
		expectSeqs(t, other, 1, 1)
	})

	t.Run("unsubscribe", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := c.Unsubscribe(ctx, "chat.1"); err != nil {
			t.Fatal(err)
		}
		publish(t, c, "chat.1", text(9))
		if m, ok := <-sub.Messages(); ok {
			t.Fatalf("message %d after unsubscribe", m.Seq)
		}
		if sub.Err() != nil {
			t.Fatalf("Err after Unsubscribe: %v", sub.Err())
		}
		if err := c.Unsubscribe(ctx, "chat.1"); !errors.Is(err, heraldclient.ErrNotSubscribed) {
			t.Fatalf("second Unsubscribe: %v", err)
		}
		if err := sub.Unsubscribe(ctx); err != nil {
			t.Fatalf("Subscription.Unsubscribe again: %v", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		other := subscribe(t, c, "chat.2", heraldclient.SubscribeOptions{})
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if c.State() != heraldclient.StateClosed || !errors.Is(c.Err(), heraldclient.ErrClosed) {
			t.Fatalf("state %v err %v after Close", c.State(), c.Err())
		}
		<-c.Done()
		if _, ok := <-other.Messages(); ok || !errors.Is(other.Err(), heraldclient.ErrClosed) {
			t.Fatalf("subscription still open after Close (err %v)", other.Err())
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if _, err := c.Publish(ctx, "chat.1", "x", 1); !errors.Is(err, heraldclient.ErrClosed) {
			t.Fatalf("Publish after Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

// TestErrors: refusals surface as typed errors on the call they answer,
// and a refused token fails Connect at once.
func TestErrors(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})

	t.Run("connect", func(t *testing.T) {
		errBackend := errors.New("token backend down")
		wrongSecret, err := auth.Mint([]byte("not-the-server-secret-0123456789abcdef"), "alice", []string{"chat.>"}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			url   string
			token func(context.Context) (string, error)
			check func(error) bool
		}{
			{"garbage token", srv.URL,
				func(context.Context) (string, error) { return "not-a-jwt", nil },
				func(err error) bool { return isCode(err, protocol.CodeUnauthorized) }},
			{"expired token", srv.URL,
				func(context.Context) (string, error) { return mint("alice", -time.Minute, "chat.>"), nil },
				func(err error) bool { return isCode(err, protocol.CodeUnauthorized) }},
			{"wrong signature", srv.URL,
				func(context.Context) (string, error) { return wrongSecret, nil },
				func(err error) bool { return isCode(err, protocol.CodeUnauthorized) }},
			{"token provider fails", srv.URL,
				func(context.Context) (string, error) { return "", errBackend },
				func(err error) bool { return errors.Is(err, errBackend) }},
			{"no server", "ws://127.0.0.1:1/ws", staticToken("alice", "chat.>"),
				func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, _ := newClient(t, tt.url, tt.token, nil)
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				start := time.Now()
				err := c.Connect(ctx)
				if err == nil || !tt.check(err) {
					t.Fatalf("Connect: %v", err)
				}
				t.Logf("Connect: %v (after %v)", err, time.Since(start).Round(time.Millisecond))
				if c.State() != heraldclient.StateDisconnected {
					t.Fatalf("state %v after a failed Connect", c.State())
				}
			})
		}
	})

	c, _ := connected(t, srv.URL, staticToken("alice", "chat.>"), func(cfg *heraldclient.Config) {
		cfg.MaxFrameSize = 1 << 10
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	t.Run("forbidden subscribe", func(t *testing.T) {
		_, err := c.Subscribe(ctx, "admin.1", heraldclient.SubscribeOptions{})
		if !isCode(err, protocol.CodeForbidden) || !errors.Is(err, &heraldclient.Error{Code: protocol.CodeForbidden}) {
			t.Fatalf("got %v, want a forbidden *Error", err)
		}
	})
	t.Run("forbidden publish", func(t *testing.T) {
		_, err := c.Publish(ctx, "admin.1", "message.new", text(1))
		if !isCode(err, protocol.CodeForbidden) {
			t.Fatalf("got %v, want a forbidden *Error", err)
		}
	})
	t.Run("invalid channel", func(t *testing.T) {
		if _, err := c.Subscribe(ctx, "chat..1", heraldclient.SubscribeOptions{}); !isCode(err, protocol.CodeBadRequest) {
			t.Fatalf("subscribe: %v", err)
		}
		if _, err := c.Publish(ctx, "chat.*", "e", 1); !isCode(err, protocol.CodeBadRequest) {
			t.Fatalf("publish: %v", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		if _, err := c.Publish(ctx, "chat.1", "e", strings.Repeat("x", 2<<10)); !errors.Is(err, heraldclient.ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
	})
	t.Run("unencodable payload", func(t *testing.T) {
		if _, err := c.Publish(ctx, "chat.1", "e", func() {}); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("still usable", func(t *testing.T) {
		publish(t, c, "chat.1", text(1))
	})
}

// TestBackpressure: an app that does not read makes its subscription pause
// instead of blocking the reader or dropping anything; once it reads, it
// gets every message once, in order, and the client stays responsive
// meanwhile.
func TestBackpressure(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c, states := connected(t, srv.URL, staticToken("alice", "chat.>"), nil)
	const n = 300
	slow := subscribe(t, c, "chat.slow", heraldclient.SubscribeOptions{BufferSize: 8})
	other := subscribe(t, c, "chat.other", heraldclient.SubscribeOptions{})

	pub, _ := connected(t, srv.URL, staticToken("bob", "chat.>"), nil)
	for i := 0; i < n; i++ {
		publish(t, pub, "chat.slow", text(i))
	}
	// The same connection still delivers other channels and acks while
	// chat.slow is stalled.
	publish(t, c, "chat.other", text(0))
	expectSeqs(t, other, 1, 1)

	msgs := expectSeqs(t, slow, 1, n)
	if msgs[n-1].From != "bob" {
		t.Fatalf("last message %+v", msgs[n-1])
	}
	expectQuiet(t, slow, 100*time.Millisecond)
	if got := states.connects.Load(); got != 1 {
		t.Fatalf("%d connects; a slow app must not cost the connection", got)
	}
}

// TestSnapshotRequired: resuming from a seq the server no longer holds
// yields a SnapshotRequired notice in the stream, then the stream goes on
// from the head.
func TestSnapshotRequired(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Broker: membroker.Config{
		RetentionCount: 5, RetentionInterval: 20 * time.Millisecond,
	}})
	c, _ := connected(t, srv.URL, staticToken("alice", "chat.>"), nil)
	for i := 0; i < 20; i++ {
		publish(t, c, "chat.old", text(i))
	}
	// Wait until retention has trimmed the channel to its last 5.
	raw := wstest.Auth(t, srv.URL, testserver.Token(t, "auditor", ">"))
	deadline := time.Now().Add(waitTimeout)
	for i := 0; ; i++ {
		raw.Send(map[string]any{"type": "subscribe", "id": "probe", "channel": "chat.old", "lastSeq": 0})
		if f := raw.Read(); f.Type == protocol.TypeSnapshotRequired && f.OldestSeq == 16 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention did not trim chat.old")
		}
		time.Sleep(20 * time.Millisecond)
	}

	from := uint64(3)
	sub := subscribe(t, c, "chat.old", heraldclient.SubscribeOptions{LastSeq: &from})
	m := recv(t, sub)
	want := heraldclient.SnapshotRequired{Channel: "chat.old", Seq: 20, OldestSeq: 16}
	if m.SnapshotRequired == nil || *m.SnapshotRequired != want || m.Seq != 20 {
		t.Fatalf("got %+v, want a SnapshotRequired %+v", m, want)
	}
	publish(t, c, "chat.old", text(21))
	expectSeqs(t, sub, 21, 21)
}
