package featuretest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// waitStatus reads user_status frames until one matches want (written
// as online/devices/seen), and fails after within.
func waitStatus(t *testing.T, c *wstest.Client, want string, within time.Duration) protocol.Frame {
	t.Helper()
	deadline := time.Now().Add(within)
	var last protocol.Frame
	for {
		f, err := c.Next(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for status %s (last %+v): %v", want, last, err)
		}
		if f.Type != protocol.TypeUserStatus {
			continue
		}
		last = f
		if statusString(f) == want {
			return f
		}
	}
}

func statusString(f protocol.Frame) string {
	return fmt.Sprintf("online=%v devices=%d seen=%v", f.Online, f.Devices, f.LastSeen > 0)
}

// TestUserStatus follows a user's devices across nodes as a contact sees
// them: online, the device count, offline with a last-seen time that a
// later watcher reads too.
func TestUserStatus(t *testing.T) {
	for _, kind := range testserver.Brokers {
		t.Run(kind, func(t *testing.T) {
			ns := startNodes(t, kind, hubConfig())
			alice := wstest.Auth(t, ns.Node(0).URL, testserver.Token(t, "alice", "status.>"))
			alice.Send(map[string]any{"type": "subscribe", "id": "w", "channel": "status.bob"})
			alice.Expect(protocol.TypeSubscribed)
			if f := alice.Expect(protocol.TypeUserStatus); f.UserID != "bob" || statusString(f) != "online=false devices=0 seen=false" {
				t.Fatalf("bob before he ever came: %+v", f)
			}

			bob1 := user(t, ns.Node(1), "bob")
			waitStatus(t, alice, "online=true devices=1 seen=false", 5*time.Second)
			bob2 := user(t, ns.Node(0), "bob")
			waitStatus(t, alice, "online=true devices=2 seen=false", 5*time.Second)
			_ = bob1.Conn.Close(websocket.StatusNormalClosure, "")
			waitStatus(t, alice, "online=true devices=1 seen=false", 5*time.Second)
			before := time.Now().UnixMilli()
			_ = bob2.Conn.Close(websocket.StatusNormalClosure, "")
			off := waitStatus(t, alice, "online=false devices=0 seen=true", 5*time.Second)
			if off.LastSeen < before-1000 || off.LastSeen > time.Now().UnixMilli() {
				t.Errorf("lastSeen %d, want about %d", off.LastSeen, before)
			}

			carol := wstest.Auth(t, ns.Node(1).URL, testserver.Token(t, "carol", "status.bob"))
			carol.Send(map[string]any{"type": "subscribe", "id": "w", "channel": "status.bob"})
			carol.Expect(protocol.TypeSubscribed)
			if f := carol.Expect(protocol.TypeUserStatus); f.Online || f.LastSeen != off.LastSeen {
				t.Errorf("a later watcher got %+v, want offline since %d", f, off.LastSeen)
			}
		})
	}
}

// TestUserStatusNodeDies checks that a user whose only connection was on
// a node that died goes offline for watchers on other nodes.
func TestUserStatusNodeDies(t *testing.T) {
	for _, kind := range testserver.Brokers[1:] {
		t.Run(kind, func(t *testing.T) {
			ns := startNodes(t, kind, hubConfig())
			alice := wstest.Auth(t, ns.Node(0).URL, testserver.Token(t, "alice", "status.>"))
			alice.Send(map[string]any{"type": "subscribe", "id": "w", "channel": "status.bob"})
			alice.Expect(protocol.TypeSubscribed)
			alice.Expect(protocol.TypeUserStatus)
			user(t, ns.Node(1), "bob")
			waitStatus(t, alice, "online=true devices=1 seen=false", 5*time.Second)
			if err := ns.Node(1).Broker.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, alice, "online=false devices=0 seen=true", 10*time.Second)
		})
	}
}

// TestUserStatusRefusals: another user's status needs a grant; one's own
// does not; nobody publishes to a status channel.
func TestUserStatusRefusals(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hubConfig()})
	c := wstest.Auth(t, srv.URL, testserver.Token(t, "carol", "room.>"))
	c.Send(map[string]any{"type": "subscribe", "id": "own", "channel": "status.carol"})
	c.Expect(protocol.TypeSubscribed)
	if f := c.Expect(protocol.TypeUserStatus); !f.Online || f.Devices != 1 {
		t.Fatalf("own status %+v, want online on one device", f)
	}
	tests := []struct {
		name  string
		frame map[string]any
		code  protocol.Code
	}{
		{"another user's status without a grant", map[string]any{"type": "subscribe", "id": "s", "channel": "status.bob"}, protocol.CodeForbidden},
		{"publishing to a status channel", map[string]any{"type": "publish", "id": "p", "channel": "status.carol", "payload": 1}, protocol.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Send(tt.frame)
			c.ExpectError(tt.code)
		})
	}
}
