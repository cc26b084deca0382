package protocoltest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

func runFrames(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{})
	tests := []struct {
		name string
		run  func(t *testing.T, tr Transport, srv *testserver.Server)
	}{
		{"auth_ok", frameAuth},
		{"ping and pong", framePing},
		{"subscribe new channel", frameSubscribeNew},
		{"publish, ack and message", framePublish},
		{"unsubscribe", frameUnsubscribe},
		{"subscribe with lastSeq replays", frameResume},
		{"lastSeq 0 replays everything", frameReplayAll},
		{"lastSeq at head replays nothing", frameResumeAtHead},
		{"lastSeq ahead of head needs a snapshot", frameAhead},
		{"retried publish is acked once and delivered once", frameDedupe},
		{"batch of frames", frameBatch},
		{"batch of publishes answers each in order", frameBatchPublish},
		{"subscribe again restarts from the new lastSeq", frameResubscribe},
		{"every subscriber sees the same order", frameSameOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, tr, srv) })
	}
	t.Run("snapshot_required past retention", func(t *testing.T) { frameSnapshot(t, tr) })
	t.Run("token refresh keeps subscriptions", func(t *testing.T) { frameTokenRefresh(t, tr) })
}

func frameAuth(t *testing.T, tr Transport, srv *testserver.Server) {
	c := dial(t, tr, srv)
	tok := testserver.TokenTTL(t, "alice", 30*time.Minute, "chat.>")
	c.send(map[string]any{"type": "auth", "token": tok, "id": "a1"})
	f := c.expect(protocol.TypeAuthOK)
	if f.ID != "a1" || f.UserID != "alice" || f.ConnectionID == "" {
		t.Fatalf("auth_ok = %+v", f)
	}
	if d := time.Until(time.UnixMilli(f.ExpiresAt)); d < 29*time.Minute || d > 31*time.Minute {
		t.Fatalf("expiresAt is %v away, want the token's 30m", d)
	}
	other := login(t, tr, srv, "bob")
	other.send(map[string]any{"type": "auth", "token": testserver.Token(t, "bob"), "id": "a2"})
	if g := other.expect(protocol.TypeAuthOK); g.ConnectionID == f.ConnectionID {
		t.Fatal("two connections share a connection id")
	}
}

func framePing(t *testing.T, tr Transport, srv *testserver.Server) {
	c := dial(t, tr, srv)
	// A ping needs no auth: clients measure latency before they log in.
	before := time.Now().UnixMilli()
	c.send(map[string]any{"type": "ping", "id": "p"})
	f := c.expect(protocol.TypePong)
	if f.ID != "p" || f.Timestamp < before-1000 || f.Timestamp > time.Now().UnixMilli()+1000 {
		t.Fatalf("pong = %+v", f)
	}
}

func frameSubscribeNew(t *testing.T, tr Transport, srv *testserver.Server) {
	c := login(t, tr, srv, "alice", "fresh.>")
	c.send(map[string]any{"type": "subscribe", "channel": "fresh.1", "id": "s1"})
	f := c.expect(protocol.TypeSubscribed)
	if f.ID != "s1" || f.Channel != "fresh.1" || f.Seq != 0 || f.Recovered {
		t.Fatalf("subscribed = %+v, want id s1, seq 0, not recovered", f)
	}
}

func framePublish(t *testing.T, tr Transport, srv *testserver.Server) {
	sub := login(t, tr, srv, "bob", "pub.>")
	sub.subscribe("pub.1", nil)
	pub := login(t, tr, srv, "alice", "pub.>")
	ack := pub.publish("pub.1", "m-1", map[string]any{"text": "hello"})
	if ack.Channel != "pub.1" || ack.Seq != 1 || ack.Timestamp == 0 {
		t.Fatalf("ack = %+v", ack)
	}
	m := sub.expect(protocol.TypeMessage)
	if m.Channel != "pub.1" || m.Seq != 1 || m.ID != "m-1" || m.Event != "message.new" ||
		m.From != "alice" || m.Timestamp != ack.Timestamp || string(m.Payload) != `{"text":"hello"}` {
		t.Fatalf("message = %+v (payload %s)", m, m.Payload)
	}
}

func frameUnsubscribe(t *testing.T, tr Transport, srv *testserver.Server) {
	c := login(t, tr, srv, "alice", "unsub.>")
	c.subscribe("unsub.1", nil)
	c.send(map[string]any{"type": "unsubscribe", "channel": "unsub.1", "id": "u"})
	if f := c.expect(protocol.TypeUnsubscribed); f.ID != "u" || f.Channel != "unsub.1" {
		t.Fatalf("unsubscribed = %+v", f)
	}
	pub := login(t, tr, srv, "bob", "unsub.>")
	pub.publish("unsub.1", "after", 1)
	// The ping's pong comes next: nothing from the channel in between.
	c.usable()
}

func publishN(t *testing.T, c *client, channel string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		c.publish(channel, fmt.Sprintf("%s-%d", channel, i), i)
	}
}

// expectRun reads message frames with seqs from..to in order.
func expectRun(t *testing.T, c *client, channel string, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		m := c.expect(protocol.TypeMessage)
		if m.Channel != channel || m.Seq != seq {
			t.Fatalf("got %s seq %d, want %s seq %d", m.Channel, m.Seq, channel, seq)
		}
	}
}

func frameResume(t *testing.T, tr Transport, srv *testserver.Server) {
	pub := login(t, tr, srv, "alice", "resume.>")
	publishN(t, pub, "resume.1", 1, 10)
	c := login(t, tr, srv, "bob", "resume.>")
	c.send(map[string]any{"type": "subscribe", "channel": "resume.1", "lastSeq": 6, "id": "r"})
	f := c.expect(protocol.TypeSubscribed)
	if f.ID != "r" || f.Seq != 10 || !f.Recovered {
		t.Fatalf("subscribed = %+v, want seq 10, recovered", f)
	}
	expectRun(t, c, "resume.1", 7, 10)
	publishN(t, pub, "resume.1", 11, 12)
	expectRun(t, c, "resume.1", 11, 12)
}

func frameReplayAll(t *testing.T, tr Transport, srv *testserver.Server) {
	pub := login(t, tr, srv, "alice", "all.>")
	publishN(t, pub, "all.1", 1, 5)
	c := login(t, tr, srv, "bob", "all.>")
	if f := c.subscribe("all.1", u64(0)); !f.Recovered || f.Seq != 5 {
		t.Fatalf("subscribed = %+v", f)
	}
	expectRun(t, c, "all.1", 1, 5)
	c.usable()
}

func frameResumeAtHead(t *testing.T, tr Transport, srv *testserver.Server) {
	pub := login(t, tr, srv, "alice", "head.>")
	publishN(t, pub, "head.1", 1, 3)
	c := login(t, tr, srv, "bob", "head.>")
	if f := c.subscribe("head.1", u64(3)); !f.Recovered || f.Seq != 3 {
		t.Fatalf("subscribed = %+v", f)
	}
	c.usable()
}

func frameAhead(t *testing.T, tr Transport, srv *testserver.Server) {
	pub := login(t, tr, srv, "alice", "ahead.>")
	publishN(t, pub, "ahead.1", 1, 2)
	c := login(t, tr, srv, "bob", "ahead.>")
	c.send(map[string]any{"type": "subscribe", "channel": "ahead.1", "lastSeq": 50, "id": "x"})
	s := c.expect(protocol.TypeSnapshotRequired)
	if s.ID != "x" || s.Seq != 2 || s.OldestSeq != 1 {
		t.Fatalf("snapshot_required = %+v", s)
	}
	if f := c.expect(protocol.TypeSubscribed); f.Recovered || f.Seq != 2 {
		t.Fatalf("subscribed = %+v, want seq 2, not recovered", f)
	}
	publishN(t, pub, "ahead.1", 3, 3)
	expectRun(t, c, "ahead.1", 3, 3)
}

func frameDedupe(t *testing.T, tr Transport, srv *testserver.Server) {
	sub := login(t, tr, srv, "bob", "dedupe.>")
	sub.subscribe("dedupe.1", nil)
	pub := login(t, tr, srv, "alice", "dedupe.>")
	first := pub.publish("dedupe.1", "same-id", "one")
	again := pub.publish("dedupe.1", "same-id", "one")
	if again.Seq != first.Seq || again.Timestamp != first.Timestamp {
		t.Fatalf("retry acked %+v, first ack %+v", again, first)
	}
	next := pub.publish("dedupe.1", "other-id", "two")
	if next.Seq != first.Seq+1 {
		t.Fatalf("next seq %d after %d", next.Seq, first.Seq)
	}
	expectRun(t, sub, "dedupe.1", first.Seq, next.Seq)
	sub.usable()
}

func frameBatch(t *testing.T, tr Transport, srv *testserver.Server) {
	c := login(t, tr, srv, "alice", "batch.>")
	c.SendRaw([]byte(`[{"type":"ping","id":"1"},{"type":"subscribe","channel":"batch.1","id":"2"},{"type":"ping","id":"3"}]`))
	for _, want := range []struct{ typ, id string }{{"pong", "1"}, {"subscribed", "2"}, {"pong", "3"}} {
		if f := c.read(); f.Type != want.typ || f.ID != want.id {
			t.Fatalf("got %s %q, want %s %q", f.Type, f.ID, want.typ, want.id)
		}
	}
}

func frameResubscribe(t *testing.T, tr Transport, srv *testserver.Server) {
	pub := login(t, tr, srv, "alice", "resub.>")
	publishN(t, pub, "resub.1", 1, 4)
	c := login(t, tr, srv, "bob", "resub.>")
	c.subscribe("resub.1", u64(2))
	expectRun(t, c, "resub.1", 3, 4)
	c.subscribe("resub.1", u64(1))
	expectRun(t, c, "resub.1", 2, 4)
	publishN(t, pub, "resub.1", 5, 5)
	expectRun(t, c, "resub.1", 5, 5)
	c.usable()
}

func frameSameOrder(t *testing.T, tr Transport, srv *testserver.Server) {
	const n = 60
	subs := []*client{login(t, tr, srv, "s1", "order.>"), login(t, tr, srv, "s2", "order.>")}
	for _, s := range subs {
		s.subscribe("order.1", nil)
	}
	pubs := []*client{login(t, tr, srv, "p1", "order.>"), login(t, tr, srv, "p2", "order.>")}
	done := make(chan struct{})
	for i, p := range pubs {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range n / 2 {
				p.send(map[string]any{"type": "publish", "id": fmt.Sprintf("%d-%d", i, j), "channel": "order.1", "payload": j})
			}
		}()
	}
	<-done
	<-done
	var orders [2][]string
	for i, s := range subs {
		for seq := uint64(1); seq <= n; seq++ {
			m := s.expect(protocol.TypeMessage)
			if m.Seq != seq {
				t.Fatalf("subscriber %d got seq %d, want %d", i, m.Seq, seq)
			}
			orders[i] = append(orders[i], m.ID)
		}
	}
	for i := range orders[0] {
		if orders[0][i] != orders[1][i] {
			t.Fatalf("seq %d is %s for one subscriber and %s for the other", i+1, orders[0][i], orders[1][i])
		}
	}
}

func frameSnapshot(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Broker: membroker.Config{RetentionCount: 3}})
	pub := login(t, tr, srv, "alice", "snap.>")
	publishN(t, pub, "snap.1", 1, 8)
	if err := srv.Broker.(*membroker.Broker).RunRetention(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := login(t, tr, srv, "bob", "snap.>")
	c.send(map[string]any{"type": "subscribe", "channel": "snap.1", "lastSeq": 2, "id": "s"})
	s := c.expect(protocol.TypeSnapshotRequired)
	if s.Seq != 8 || s.OldestSeq != 6 || s.ID != "s" {
		t.Fatalf("snapshot_required = %+v, want seq 8 oldestSeq 6", s)
	}
	if f := c.expect(protocol.TypeSubscribed); f.Recovered || f.Seq != 8 {
		t.Fatalf("subscribed = %+v", f)
	}
	// Within retention, the same channel still replays.
	ok := login(t, tr, srv, "carol", "snap.>")
	if f := ok.subscribe("snap.1", u64(5)); !f.Recovered {
		t.Fatalf("lastSeq 5 with oldest 6 should recover, got %+v", f)
	}
	expectRun(t, ok, "snap.1", 6, 8)
	publishN(t, pub, "snap.1", 9, 9)
	expectRun(t, c, "snap.1", 9, 9)
}

func frameTokenRefresh(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		TokenExpiryWarning: 3 * time.Second, SweepInterval: 100 * time.Millisecond,
	}})
	c := dial(t, tr, srv)
	c.send(map[string]any{"type": "auth", "token": testserver.TokenTTL(t, "alice", 5*time.Second, "tok.>")})
	first := c.expect(protocol.TypeAuthOK)
	c.subscribe("tok.1", nil)
	w := c.expect(protocol.TypeTokenExpiring)
	if w.ExpiresAt != first.ExpiresAt {
		t.Fatalf("token_expiring.expiresAt %d, auth_ok said %d", w.ExpiresAt, first.ExpiresAt)
	}
	c.send(map[string]any{"type": "auth", "id": "refresh", "token": testserver.TokenTTL(t, "alice", time.Hour, "tok.>")})
	second := c.expect(protocol.TypeAuthOK)
	if second.ConnectionID != first.ConnectionID || second.ID != "refresh" || second.ExpiresAt <= first.ExpiresAt {
		t.Fatalf("refresh auth_ok = %+v after %+v", second, first)
	}
	time.Sleep(time.Until(time.UnixMilli(first.ExpiresAt).Add(300 * time.Millisecond))) // past the first token's expiry
	pub := login(t, tr, srv, "bob", "tok.>")
	pub.publish("tok.1", "after-refresh", 1)
	expectRun(t, c, "tok.1", 1, 1)
}

func frameBatchPublish(t *testing.T, tr Transport, srv *testserver.Server) {
	sub := login(t, tr, srv, "bob", "bp.>")
	sub.subscribe("bp.1", nil)
	c := login(t, tr, srv, "alice", "bp.>")
	c.SendRaw([]byte(`[` +
		`{"type":"publish","id":"a","channel":"bp.1","payload":1},` +
		`{"type":"publish","id":"b","channel":"other.1","payload":2},` +
		`{"type":"publish","id":"c","channel":"bp.1"},` +
		`{"type":"publish","id":"d","channel":"bp.1","payload":4},` +
		`{"type":"publish","id":"a","channel":"bp.1","payload":1}]`))
	want := []struct {
		typ, id string
		code    protocol.Code
		seq     uint64
	}{
		{protocol.TypeAck, "a", "", 1},
		{protocol.TypeError, "b", protocol.CodeForbidden, 0},
		{protocol.TypeError, "c", protocol.CodeBadRequest, 0},
		{protocol.TypeAck, "d", "", 2},
		{protocol.TypeAck, "a", "", 1},
	}
	for i, w := range want {
		f := c.read()
		id := f.ID
		if f.Type == protocol.TypeError {
			id = f.Ref
		}
		if f.Type != w.typ || id != w.id || f.Code != w.code || f.Seq != w.seq {
			t.Fatalf("reply %d = %+v, want %s %s %s seq %d", i, f, w.typ, w.id, w.code, w.seq)
		}
	}
	expectRun(t, sub, "bp.1", 1, 2)
	sub.usable()
}
