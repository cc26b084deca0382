package featuretest

import (
	"testing"
	"time"

	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestChannelState sets keys on one node and reads the state on the
// other: the snapshot after subscribed, writes as log entries, the later
// write winning.
func TestChannelState(t *testing.T) {
	for _, kind := range testserver.Brokers {
		t.Run(kind, func(t *testing.T) {
			ns := startNodes(t, kind, hubConfig())
			alice := user(t, ns.Node(0), "alice")
			set := func(id, key string, value any) protocol.Frame {
				t.Helper()
				alice.Send(map[string]any{"type": "state_set", "id": id, "channel": "room.doc", "key": key, "value": value})
				return nextOf(t, alice, protocol.TypeAck, 5*time.Second)
			}
			set("s1", "title", "draft")
			set("s2", "title", "final")
			last := set("s3", "cursor.alice", map[string]int{"line": 3})
			set("s4", "gone", 1)
			set("s5", "gone", nil)
			if again := set("s3", "cursor.alice", map[string]int{"line": 3}); again.Seq != last.Seq {
				t.Fatalf("a retried state_set got seq %d, want the first one's %d", again.Seq, last.Seq)
			}

			bob := user(t, ns.Node(1), "bob")
			bob.Send(map[string]any{"type": "subscribe", "id": "b", "channel": "room.doc", "state": true})
			sub := bob.Expect(protocol.TypeSubscribed)
			st := bob.Expect(protocol.TypeState)
			if st.Seq != sub.Seq || len(st.Entries) != 2 || string(st.Entries["title"].Value) != `"final"` || st.Entries["title"].Seq != 2 ||
				st.Entries["cursor.alice"].Seq != last.Seq {
				t.Fatalf("bob's state %+v after subscribed at %d", st, sub.Seq)
			}
			set("s6", "title", "final v2")
			m := nextOf(t, bob, protocol.TypeMessage, 5*time.Second)
			if m.Op != protocol.OpState || m.Target != 0 || m.Event != "title" || string(m.Payload) != `"final v2"` || m.Seq != sub.Seq+1 {
				t.Fatalf("bob got %+v, want the write of title as the next message", m)
			}

			// A client resuming from the start replays every write in order.
			carol := user(t, ns.Node(0), "carol")
			carol.Send(map[string]any{"type": "subscribe", "id": "c", "channel": "room.doc", "lastSeq": 0})
			carol.Expect(protocol.TypeSubscribed)
			for seq := uint64(1); seq <= m.Seq; seq++ {
				if f := carol.Expect(protocol.TypeMessage); f.Seq != seq {
					t.Fatalf("replay gave seq %d, want %d", f.Seq, seq)
				}
			}
		})
	}
}

// TestStateInSnapshotRequired: a client away past the retention window
// gets the state in snapshot_required. (NATS applies retention once a
// minute, too slow for a test; the hub's side is the same on every
// broker.)
func TestStateInSnapshotRequired(t *testing.T) {
	for _, kind := range testserver.Brokers[:2] {
		t.Run(kind, func(t *testing.T) { testStateInSnapshotRequired(t, kind) })
	}
}

func testStateInSnapshotRequired(t *testing.T, kind string) {
	ns := testserver.StartNodes(t, kind, 2, testserver.NodesOptions{Options: testserver.Options{Hub: hubConfig()}, RetentionCount: 2})
	alice := user(t, ns.Node(0), "alice")
	for i, v := range []string{"a", "b", "c", "d"} {
		alice.Send(map[string]any{"type": "state_set", "id": v, "channel": "room.s", "key": "k" + v, "value": i})
		nextOf(t, alice, protocol.TypeAck, 5*time.Second)
	}
	if mb, ok := ns.Node(0).Broker.(*membroker.Broker); ok {
		if err := mb.RunRetention(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	bob := user(t, ns.Node(1), "bob")
	bob.Send(map[string]any{"type": "subscribe", "id": "b", "channel": "room.s", "lastSeq": 0, "state": true})
	sr := bob.Expect(protocol.TypeSnapshotRequired)
	if len(sr.Entries) != 4 || sr.Entries["ka"].Seq != 1 || sr.Entries["kd"].Seq != 4 {
		t.Fatalf("snapshot_required %+v, want all four keys", sr)
	}
	bob.Expect(protocol.TypeSubscribed)
	if st := bob.Expect(protocol.TypeState); len(st.Entries) != 4 {
		t.Fatalf("state %+v", st)
	}
}

// TestStateRefusals checks the documented errors.
func TestStateRefusals(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hubConfig()})
	c := user(t, srv, "alice")
	tests := []struct {
		name  string
		frame map[string]any
		code  protocol.Code
	}{
		{"no id", map[string]any{"type": "state_set", "channel": "room.1", "key": "k", "value": 1}, protocol.CodeBadRequest},
		{"no key", map[string]any{"type": "state_set", "id": "x", "channel": "room.1", "value": 1}, protocol.CodeBadRequest},
		{"no value", map[string]any{"type": "state_set", "id": "x", "channel": "room.1", "key": "k"}, protocol.CodeBadRequest},
		{"key too long", map[string]any{"type": "state_set", "id": "x", "channel": "room.1", "key": string(make([]byte, 129)), "value": 1}, protocol.CodeTooLarge},
		{"ungranted channel", map[string]any{"type": "state_set", "id": "x", "channel": "other.1", "key": "k", "value": 1}, protocol.CodeForbidden},
		{"status channel", map[string]any{"type": "state_set", "id": "x", "channel": "status.alice", "key": "k", "value": 1}, protocol.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Send(tt.frame)
			c.ExpectError(tt.code)
		})
	}
}
