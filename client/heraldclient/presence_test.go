package heraldclient_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// presenceEvent waits for sub's next presence event.
func presenceEvent(t *testing.T, sub *heraldclient.Subscription) heraldclient.PresenceEvent {
	t.Helper()
	select {
	case ev := <-sub.PresenceEvents():
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("no presence event")
		return heraldclient.PresenceEvent{}
	}
}

func userIDs(ms []heraldclient.PresenceMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.UserID
	}
	return out
}

// TestPresence follows a watched channel through a join, a leave and a
// reconnect, and asks for presence without subscribing.
func TestPresence(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{PresenceInterval: 50 * time.Millisecond}})
	p := newProxy(t, srv)
	watcher, states := connected(t, p.URL, staticToken("watcher", "room.>"), nil)
	sub := subscribe(t, watcher, "room.1", heraldclient.SubscribeOptions{Presence: true})
	if ev := presenceEvent(t, sub); !ev.State || ev.Count != 1 || userIDs(ev.Members)[0] != "watcher" {
		t.Fatalf("first event %+v, want the state with the watcher alone", ev)
	}

	alice, _ := connected(t, srv.URL, staticToken("alice", "room.>"), nil)
	asub := subscribe(t, alice, "room.1", heraldclient.SubscribeOptions{})
	if ev := presenceEvent(t, sub); ev.State || ev.Count != 2 || len(ev.Joins) != 1 || ev.Joins[0].UserID != "alice" {
		t.Fatalf("after alice subscribed: %+v", ev)
	}
	if st := sub.Presence(); st.Count != 2 || !st.Listed || len(st.Members) != 2 || st.Members[0].UserID != "alice" {
		t.Fatalf("Presence() = %+v", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := alice.Presence(ctx, "room.1")
	if err != nil || st.Count != 2 || !st.Listed {
		t.Fatalf("Presence query: %+v, %v", st, err)
	}
	var herr *heraldclient.Error
	if _, err := alice.Presence(ctx, "other.1"); !errors.As(err, &herr) || herr.Code != protocol.CodeForbidden {
		t.Fatalf("Presence of an ungranted channel: %v, want forbidden", err)
	}

	if err := asub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := presenceEvent(t, sub); ev.Count != 1 || len(ev.Leaves) != 1 || ev.Leaves[0] != "alice" {
		t.Fatalf("after alice left: %+v", ev)
	}

	// After a reconnect the subscription starts again from a state.
	p.cut(t)
	states.waitFor(t, heraldclient.StateConnected, waitTimeout)
	if ev := presenceEvent(t, sub); !ev.State || ev.Count != 1 {
		t.Fatalf("first event after the reconnect: %+v, want the state", ev)
	}
}

// TestTyping sends typing notices between two clients.
func TestTyping(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	alice, _ := connected(t, srv.URL, staticToken("alice", "room.>"), nil)
	bob, _ := connected(t, srv.URL, staticToken("bob", "room.>"), nil)
	asub := subscribe(t, alice, "room.1", heraldclient.SubscribeOptions{})
	bsub := subscribe(t, bob, "room.1", heraldclient.SubscribeOptions{})
	if err := asub.SendTyping(); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-bsub.TypingNotices():
		if n.UserID != "alice" || n.Channel != "room.1" || time.Until(n.Until) < 4*time.Second {
			t.Fatalf("notice %+v", n)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no typing notice")
	}
	if got := bsub.Typing(); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("Typing() = %v, want [alice]", got)
	}
	// A message from alice ends her typing.
	publish(t, alice, "room.1", text(1))
	recv(t, bsub)
	if got := bsub.Typing(); len(got) != 0 {
		t.Fatalf("Typing() after alice's message = %v", got)
	}
	select {
	case n := <-asub.TypingNotices():
		t.Fatalf("alice got her own notice %+v", n)
	default:
	}
}

// TestReceipts marks messages read and watches the positions move, and
// finds the unread count on a later subscription.
func TestReceipts(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{ReceiptInterval: 50 * time.Millisecond}})
	alice, _ := connected(t, srv.URL, staticToken("alice", "room.>"), nil)
	bob, _ := connected(t, srv.URL, staticToken("bob", "room.>"), nil)
	asub := subscribe(t, alice, "room.1", heraldclient.SubscribeOptions{Receipts: true})
	bsub := subscribe(t, bob, "room.1", heraldclient.SubscribeOptions{Receipts: true})
	<-asub.ReceiptEvents() // the initial, empty positions
	for i := 1; i <= 3; i++ {
		publish(t, alice, "room.1", text(i))
	}
	expectSeqs(t, bsub, 1, 3)
	for seq := uint64(1); seq <= 3; seq++ {
		if err := bsub.MarkDelivered(seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := bsub.MarkRead(2); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitTimeout)
	for len(asub.ReadBy(2)) != 1 {
		select {
		case <-asub.ReceiptEvents():
		case <-deadline:
			t.Fatal("bob's read position never arrived")
		}
	}
	if d, r := asub.Receipts(); d["bob"] != 3 || r["bob"] != 2 || len(asub.ReadBy(3)) != 0 || !slices.Equal(asub.DeliveredTo(3), []string{"bob"}) {
		t.Fatalf("positions: delivered %v read %v", d, r)
	}

	bob2, _ := connected(t, srv.URL, staticToken("bob", "room.>"), nil)
	b2 := subscribe(t, bob2, "room.1", heraldclient.SubscribeOptions{Receipts: true})
	if readSeq, unread := b2.Unread(); readSeq != 2 || unread != 1 {
		t.Fatalf("Unread() = %d, %d on bob's second device, want 2, 1", readSeq, unread)
	}
}

// TestWatchUser follows a contact coming online and going offline.
func TestWatchUser(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	alice, _ := connected(t, srv.URL, staticToken("alice", "status.bob"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	w, err := alice.WatchUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	next := func() heraldclient.UserStatus {
		t.Helper()
		select {
		case st := <-w.StatusEvents():
			return st
		case <-time.After(waitTimeout):
			t.Fatal("no status event")
			return heraldclient.UserStatus{}
		}
	}
	if st := next(); st.UserID != "bob" || st.Online {
		t.Fatalf("bob before connecting: %+v", st)
	}
	bob, _ := connected(t, srv.URL, staticToken("bob"), nil)
	if st := next(); !st.Online || st.Devices != 1 {
		t.Fatalf("bob connected: %+v", st)
	}
	_ = bob.Close()
	if st := next(); st.Online || st.LastSeen.IsZero() {
		t.Fatalf("bob gone: %+v", st)
	}
	if st, ok := w.UserStatus(); !ok || st.Online {
		t.Fatalf("UserStatus() = %+v, %v", st, ok)
	}
	if _, err := alice.WatchUser(ctx, "carol"); !isCode(err, protocol.CodeForbidden) {
		t.Fatalf("watching an ungranted user: %v, want forbidden", err)
	}
}

// TestChannelState sets keys from one client and follows them on
// another, across a reconnect.
func TestChannelState(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	p := newProxy(t, srv)
	alice, _ := connected(t, srv.URL, staticToken("alice", "doc.>"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, kv := range []struct {
		k string
		v any
	}{{"title", "draft"}, {"title", "final"}, {"gone", 1}, {"gone", nil}} {
		if _, err := alice.SetState(ctx, "doc.1", kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	bob, states := connected(t, p.URL, staticToken("bob", "doc.>"), nil)
	sub := subscribe(t, bob, "doc.1", heraldclient.SubscribeOptions{State: true})
	deadline := time.Now().Add(waitTimeout)
	for string(sub.State()["title"]) != `"final"` {
		if time.Now().After(deadline) {
			t.Fatalf("state %v", sub.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := sub.State(); len(st) != 1 {
		t.Fatalf("state %v, want title alone", st)
	}
	p.cut(t)
	ack, err := alice.SetState(ctx, "doc.1", "title", "after the cut")
	if err != nil {
		t.Fatal(err)
	}
	states.waitFor(t, heraldclient.StateConnected, waitTimeout)
	for m := recv(t, sub); m.Seq != ack.Seq; m = recv(t, sub) {
	}
	if got := string(sub.State()["title"]); got != `"after the cut"` {
		t.Fatalf("title %s after the reconnect", got)
	}
	if _, err := alice.SetState(ctx, "doc.1", `a"b`, 1); !isCode(err, protocol.CodeBadRequest) {
		t.Fatalf("a bad key: %v, want bad_request", err)
	}
}
