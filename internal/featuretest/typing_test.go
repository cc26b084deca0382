package featuretest

import (
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestTyping checks typing notices across nodes: the others get one,
// the typist's own devices do not, a burst is passed on once per
// TypingInterval, and nothing of it is stored or replayed.
func TestTyping(t *testing.T) {
	for _, kind := range testserver.Brokers {
		t.Run(kind, func(t *testing.T) {
			ns := startNodes(t, kind, hubConfig())
			alice := user(t, ns.Node(0), "alice")
			subscribe(t, alice, "room.t", false)
			aliceOther := user(t, ns.Node(1), "alice")
			subscribe(t, aliceOther, "room.t", false)
			bob := user(t, ns.Node(1), "bob")
			subscribe(t, bob, "room.t", false)

			for range 5 {
				alice.Send(map[string]any{"type": "typing", "channel": "room.t"})
			}
			f := nextOf(t, bob, protocol.TypeTypingNotice, 5*time.Second)
			if f.Channel != "room.t" || f.UserID != "alice" || f.TTL != 3000 {
				t.Fatalf("bob got %+v, want alice typing in room.t for 3000 ms", f)
			}
			// A message marks the end of what the burst could have sent.
			alice.Send(map[string]any{"type": "publish", "id": "m1", "channel": "room.t", "payload": "hi"})
			for f := bob.Read(); f.Type != protocol.TypeMessage; f = bob.Read() {
				if f.Type == protocol.TypeTypingNotice {
					t.Fatalf("a second typing notice within the interval: %+v", f)
				}
			}
			for f := aliceOther.Read(); f.Type != protocol.TypeMessage; f = aliceOther.Read() {
				if f.Type == protocol.TypeTypingNotice {
					t.Fatalf("alice's other device got her own typing notice: %+v", f)
				}
			}

			// After the interval the next notice goes through.
			time.Sleep(1100 * time.Millisecond)
			alice.Send(map[string]any{"type": "typing", "channel": "room.t"})
			nextOf(t, bob, protocol.TypeTypingNotice, 5*time.Second)

			// Never stored: the channel holds the one message, and a
			// client resuming from the start gets it alone.
			carol := user(t, ns.Node(0), "carol")
			carol.Send(map[string]any{"type": "subscribe", "id": "c", "channel": "room.t", "lastSeq": 0})
			if f := carol.Expect(protocol.TypeSubscribed); f.Seq != 1 {
				t.Fatalf("channel head %d after typing and one message, want 1", f.Seq)
			}
			if f := carol.Expect(protocol.TypeMessage); f.Seq != 1 || f.ID != "m1" {
				t.Fatalf("replay gave %+v", f)
			}
			carol.Send(map[string]any{"type": "ping", "id": "p"})
			if f := carol.Read(); f.Type != protocol.TypePong {
				t.Fatalf("after the replay: %+v, want nothing but the pong", f)
			}
		})
	}
}
