package featuretest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// hubConfig is the hub configuration of these tests: presence and typing
// sped up so that tests take a few seconds.
func hubConfig() hub.Config {
	return hub.Config{
		PresenceInterval: 100 * time.Millisecond,
		PresenceResync:   500 * time.Millisecond,
		TypingInterval:   time.Second,
		TypingTTL:        3 * time.Second,
		ReceiptInterval:  200 * time.Millisecond,
	}
}

func startNodes(t *testing.T, kind string, cfg hub.Config) *testserver.Nodes {
	return testserver.StartNodes(t, kind, 2, testserver.NodesOptions{
		Options:     testserver.Options{Hub: cfg},
		PresenceTTL: 2 * time.Second,
	})
}

// user logs sub in to srv with the room.> pattern.
func user(t *testing.T, srv *testserver.Server, sub string) *wstest.Client {
	t.Helper()
	return wstest.Auth(t, srv.URL, testserver.Token(t, sub, "room.>"))
}

// subscribe subscribes c, asking for presence when watch is set, and
// returns the presence_state that follows subscribed then.
func subscribe(t *testing.T, c *wstest.Client, channel string, watch bool) protocol.Frame {
	t.Helper()
	c.Send(map[string]any{"type": "subscribe", "id": "s-" + channel, "channel": channel, "presence": watch})
	c.Expect(protocol.TypeSubscribed)
	if !watch {
		return protocol.Frame{}
	}
	return c.Expect(protocol.TypePresenceState)
}

// nextOf reads until a frame of type typ, skipping others, for at most
// within.
func nextOf(t *testing.T, c *wstest.Client, typ string, within time.Duration) protocol.Frame {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f, err := c.Next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == typ {
			return f
		}
	}
}

func memberIDs(ms []protocol.PresenceMember) string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = fmt.Sprintf("%s×%d", m.UserID, m.Connections)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func diffString(f protocol.Frame) string {
	joins := make([]string, len(f.Joins))
	for i, m := range f.Joins {
		joins[i] = m.UserID
	}
	return fmt.Sprintf("count=%d joins=%v leaves=%v", f.Count, joins, f.Leaves)
}

// TestPresenceEvents follows a watcher through joins and leaves across
// nodes: one diff per change of a user, none for a user's second device
// coming or going.
func TestPresenceEvents(t *testing.T) {
	for _, kind := range testserver.Brokers {
		t.Run(kind, func(t *testing.T) {
			// No resync within the test: the deltas alone carry it.
			cfg := hubConfig()
			cfg.PresenceResync = time.Hour
			ns := startNodes(t, kind, cfg)
			w := user(t, ns.Node(0), "watcher")
			st := subscribe(t, w, "room.1", true)
			if got := memberIDs(st.Members); st.Count != 1 || got != "watcher×1" {
				t.Fatalf("first presence_state: count %d members %s, want the watcher alone", st.Count, got)
			}

			alice1 := user(t, ns.Node(1), "alice")
			subscribe(t, alice1, "room.1", false)
			if got := diffString(nextOf(t, w, protocol.TypePresenceDiff, 5*time.Second)); got != "count=2 joins=[alice] leaves=[]" {
				t.Fatalf("after alice joined: %s", got)
			}

			// A second device, then the first one leaving: alice stays.
			alice2 := user(t, ns.Node(0), "alice")
			subscribe(t, alice2, "room.1", false)
			time.Sleep(300 * time.Millisecond) // let the join reach every node first
			alice1.Send(map[string]any{"type": "unsubscribe", "channel": "room.1"})
			alice1.Expect(protocol.TypeUnsubscribed)
			time.Sleep(300 * time.Millisecond)

			// A late watcher sees alice with one connection.
			late := user(t, ns.Node(1), "late")
			st = subscribe(t, late, "room.1", true)
			if got := memberIDs(st.Members); got != "alice×1,late×1,watcher×1" {
				t.Errorf("late watcher's presence_state: %s", got)
			}
			if got := diffString(nextOf(t, w, protocol.TypePresenceDiff, 5*time.Second)); got != "count=3 joins=[late] leaves=[]" {
				t.Fatalf("the next diff after alice's devices came and went: %s, want only late's join", got)
			}

			_ = alice2.Conn.Close(websocket.StatusNormalClosure, "bye")
			if got := diffString(nextOf(t, w, protocol.TypePresenceDiff, 5*time.Second)); got != "count=2 joins=[] leaves=[alice]" {
				t.Fatalf("after alice's last device left: %s", got)
			}

			// The presence query agrees.
			w.Send(map[string]any{"type": "presence", "id": "q", "channel": "room.1"})
			q := nextOf(t, w, protocol.TypePresenceState, 5*time.Second)
			if got := memberIDs(q.Members); q.ID != "q" || got != "late×1,watcher×1" {
				t.Errorf("presence query answered id %q members %s", q.ID, got)
			}
		})
	}
}

// TestPresenceNodeDies checks that the members of a node that stops
// without a word (its broker connection gone, its lease lapsing) leave
// the other nodes' watchers.
func TestPresenceNodeDies(t *testing.T) {
	for _, kind := range testserver.Brokers[1:] {
		t.Run(kind, func(t *testing.T) {
			ns := startNodes(t, kind, hubConfig())
			w := user(t, ns.Node(0), "watcher")
			subscribe(t, w, "room.1", true)
			bob := user(t, ns.Node(1), "bob")
			subscribe(t, bob, "room.1", false)
			if got := diffString(nextOf(t, w, protocol.TypePresenceDiff, 5*time.Second)); got != "count=2 joins=[bob] leaves=[]" {
				t.Fatalf("after bob joined: %s", got)
			}
			// The node's broker stops: no more lease renewals, no leave
			// deltas. Its lease (2s) lapses and the resync notices.
			if err := ns.Node(1).Broker.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := diffString(nextOf(t, w, protocol.TypePresenceDiff, 10*time.Second)); got != "count=1 joins=[] leaves=[bob]" {
				t.Fatalf("after bob's node died: %s", got)
			}
		})
	}
}

// TestPresenceRefusals checks the documented errors.
func TestPresenceRefusals(t *testing.T) {
	cfg := hubConfig()
	cfg.Namespaces.Named = map[string]hub.Namespace{"quiet": {NoPresence: true, NoTyping: true}}
	srv := testserver.Start(t, testserver.Options{Hub: cfg})
	c := wstest.Auth(t, srv.URL, testserver.Token(t, "alice", "room.>", "quiet.>"))
	tests := []struct {
		name  string
		frame map[string]any
		code  protocol.Code
	}{
		{"presence query without id", map[string]any{"type": "presence", "channel": "room.1"}, protocol.CodeBadRequest},
		{"presence query of an ungranted channel", map[string]any{"type": "presence", "id": "q", "channel": "other.1"}, protocol.CodeForbidden},
		{"presence query where presence is off", map[string]any{"type": "presence", "id": "q", "channel": "quiet.1"}, protocol.CodeForbidden},
		{"presence query of a reserved channel", map[string]any{"type": "presence", "id": "q", "channel": "$herald.control"}, protocol.CodeForbidden},
		{"watching where presence is off", map[string]any{"type": "subscribe", "id": "s", "channel": "quiet.1", "presence": true}, protocol.CodeForbidden},
		{"typing without subscribing", map[string]any{"type": "typing", "channel": "room.9"}, protocol.CodeNotFound},
		{"typing where typing is off", map[string]any{"type": "typing", "channel": "quiet.1"}, protocol.CodeForbidden},
		{"typing without a channel", map[string]any{"type": "typing"}, protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Send(tt.frame)
			c.ExpectError(tt.code)
		})
	}
}
