package featuretest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// subscribeReceipts subscribes c with receipts and returns subscribed
// and the receipts frame that follows it.
func subscribeReceipts(t *testing.T, c *wstest.Client, channel string) (protocol.Frame, protocol.Frame) {
	t.Helper()
	c.Send(map[string]any{"type": "subscribe", "id": "r-" + channel, "channel": channel, "receipts": true})
	return c.Expect(protocol.TypeSubscribed), c.Expect(protocol.TypeReceipts)
}

// TestReceipts checks delivery and read receipts across nodes: many
// receipts make one update, positions never move back, and a subscriber
// learns its unread count and everyone's positions.
func TestReceipts(t *testing.T) {
	for _, kind := range testserver.Brokers {
		t.Run(kind, func(t *testing.T) {
			ns := startNodes(t, kind, hubConfig())
			alice := user(t, ns.Node(0), "alice")
			sub, rc := subscribeReceipts(t, alice, "room.r")
			if sub.Unread != 0 || len(rc.Read)+len(rc.Delivered) != 0 {
				t.Fatalf("a new channel: %+v then %+v", sub, rc)
			}
			bob := user(t, ns.Node(1), "bob")
			subscribeReceipts(t, bob, "room.r")
			for i := 1; i <= 5; i++ {
				alice.Send(map[string]any{"type": "publish", "id": fmt.Sprint("m", i), "channel": "room.r", "payload": i})
			}
			// A client that acknowledges each message it got, and the four
			// read, in one batch.
			var receipts []map[string]any
			for i := 1; i <= 5; i++ {
				nextOf(t, bob, protocol.TypeMessage, 5*time.Second)
				receipts = append(receipts, map[string]any{"type": "receipt", "channel": "room.r", "seq": i, "status": "delivered"})
			}
			bob.Send(append(receipts, map[string]any{"type": "receipt", "channel": "room.r", "seq": 4, "status": "read"}))

			// One update for the lot.
			f := nextOf(t, alice, protocol.TypeReceipts, 5*time.Second)
			if f.Delivered["bob"] != 5 || f.Read["bob"] != 4 {
				t.Fatalf("alice got %+v, want bob delivered 5, read 4", f)
			}
			// Going back changes nothing: no update comes, and a later
			// subscriber sees the highest positions.
			bob.Send(map[string]any{"type": "receipt", "channel": "room.r", "seq": 2, "status": "read"})
			time.Sleep(600 * time.Millisecond) // three intervals
			alice.Send(map[string]any{"type": "ping", "id": "p"})
			for f := alice.Read(); f.Type != protocol.TypePong; f = alice.Read() {
				if f.Type == protocol.TypeReceipts {
					t.Fatalf("an update after a receipt that went back: %+v", f)
				}
			}

			carol := user(t, ns.Node(1), "carol")
			sub, rc = subscribeReceipts(t, carol, "room.r")
			if sub.Seq != 5 || sub.Unread != 5 || sub.ReadSeq != 0 {
				t.Errorf("carol's subscribed: %+v, want head 5 and 5 unread", sub)
			}
			if rc.Read["bob"] != 4 || rc.Delivered["bob"] != 5 {
				t.Errorf("carol's receipts: %+v", rc)
			}
			bob2 := user(t, ns.Node(0), "bob")
			if sub, _ := subscribeReceipts(t, bob2, "room.r"); sub.ReadSeq != 4 || sub.Unread != 1 {
				t.Errorf("bob's second device: %+v, want read 4 and 1 unread", sub)
			}
		})
	}
}

// TestReceiptsSurviveRestart restarts an embedded node: the positions
// are where they were.
func TestReceiptsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	srv := testserver.Start(t, testserver.Options{Hub: hubConfig(), Dir: dir})
	bob := user(t, srv, "bob")
	subscribeReceipts(t, bob, "room.s")
	for i := 1; i <= 3; i++ {
		bob.Send(map[string]any{"type": "publish", "id": fmt.Sprint("m", i), "channel": "room.s", "payload": i})
		nextOf(t, bob, protocol.TypeMessage, 5*time.Second)
	}
	bob.Send(map[string]any{"type": "receipt", "channel": "room.s", "seq": 3, "status": "read"})
	nextOf(t, bob, protocol.TypeReceipts, 5*time.Second) // written
	srv.Stop()

	srv = testserver.Start(t, testserver.Options{Hub: hubConfig(), Dir: dir})
	bob = user(t, srv, "bob")
	sub, rc := subscribeReceipts(t, bob, "room.s")
	if sub.ReadSeq != 3 || sub.Unread != 0 || rc.Read["bob"] != 3 {
		t.Fatalf("after a restart: %+v then %+v, want read 3", sub, rc)
	}
}

// TestReceiptRefusals checks the documented errors.
func TestReceiptRefusals(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hubConfig()})
	c := user(t, srv, "alice")
	subscribe(t, c, "room.1", false)
	tests := []struct {
		name  string
		frame map[string]any
		code  protocol.Code
	}{
		{"not subscribed", map[string]any{"type": "receipt", "channel": "room.2", "seq": 1, "status": "read"}, protocol.CodeNotFound},
		{"seq not sent yet", map[string]any{"type": "receipt", "channel": "room.1", "seq": 1, "status": "read"}, protocol.CodeBadRequest},
		{"seq zero", map[string]any{"type": "receipt", "channel": "room.1", "seq": 0, "status": "read"}, protocol.CodeBadRequest},
		{"unknown status", map[string]any{"type": "receipt", "channel": "room.1", "seq": 1, "status": "seen"}, protocol.CodeBadRequest},
		{"reserved channel", map[string]any{"type": "receipt", "channel": "$herald.control", "seq": 1, "status": "read"}, protocol.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Send(tt.frame)
			c.ExpectError(tt.code)
		})
	}
}
