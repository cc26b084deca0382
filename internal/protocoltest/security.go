package protocoltest

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// runPermissions checks who may subscribe and publish where: the token's
// patterns with their edge cases, each user's own channel, namespaces
// that only the backend writes to, and a refresh that takes channels away.
func runPermissions(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		Namespaces: hub.Namespaces{Named: map[string]hub.Namespace{
			"news":  {BackendOnly: true},
			"small": {MaxMessageSize: 16},
		}},
	}})
	tests := []struct {
		name     string
		patterns []string
		frame    map[string]any
		want     string        // reply type
		code     protocol.Code // for errors
	}{
		{"own user channel without a claim", nil, sub("user.alice"), protocol.TypeSubscribed, ""},
		{"another user's channel", []string{">"}, sub("user.bob"), protocol.TypeError, protocol.CodeForbidden},
		{"another user's channel by pattern", []string{"user.*"}, sub("user.bob"), protocol.TypeError, protocol.CodeForbidden},
		{"a longer channel than one's own", nil, sub("user.alice.x"), protocol.TypeError, protocol.CodeForbidden},
		{"star is one segment", []string{"chat.*"}, sub("chat.1"), protocol.TypeSubscribed, ""},
		{"star is not two segments", []string{"chat.*"}, sub("chat.1.2"), protocol.TypeError, protocol.CodeForbidden},
		{"star is not zero segments", []string{"chat.*"}, sub("chat"), protocol.TypeError, protocol.CodeForbidden},
		{"tail takes the rest", []string{"chat.>"}, sub("chat.1.2.3"), protocol.TypeSubscribed, ""},
		{"tail needs one segment", []string{"chat.>"}, sub("chat"), protocol.TypeError, protocol.CodeForbidden},
		{"prefix is not a segment", []string{"chat.>"}, sub("chatroom.1"), protocol.TypeError, protocol.CodeForbidden},
		{"no patterns, no channels", nil, sub("chat.1"), protocol.TypeError, protocol.CodeForbidden},
		{"a reserved namespace", []string{">"}, sub("$herald.control"), protocol.TypeError, protocol.CodeForbidden},
		{"publish to a reserved namespace", []string{">"}, pub("$herald.control", "x"), protocol.TypeError, protocol.CodeForbidden},
		{"publish granted", []string{"chat.>"}, pub("chat.1", "x"), protocol.TypeAck, ""},
		{"publish outside the patterns", []string{"chat.*"}, pub("chat.1.2", "x"), protocol.TypeError, protocol.CodeForbidden},
		{"publish to a backend-only namespace", []string{">"}, pub("news.1", "x"), protocol.TypeError, protocol.CodeForbidden},
		{"publish to one's own user channel", []string{">"}, pub("user.alice", "x"), protocol.TypeError, protocol.CodeForbidden},
		{"publish to another's user channel", []string{">"}, pub("user.bob", "x"), protocol.TypeError, protocol.CodeForbidden},
		{"payload within the namespace limit", []string{">"}, pub("small.1", "0123456789"), protocol.TypeAck, ""},
		{"payload over the namespace limit", []string{">"}, pub("small.1", "0123456789abcdefghij"), protocol.TypeError, protocol.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := login(t, tr, srv, "alice", tt.patterns...)
			tt.frame["id"] = "q"
			c.send(tt.frame)
			f := c.read()
			if f.Type != tt.want || f.Code != tt.code {
				t.Fatalf("got %s %s (%s), want %s %s", f.Type, f.Code, f.Message, tt.want, tt.code)
			}
			c.usable()
		})
	}

	t.Run("refresh takes a channel away", func(t *testing.T) {
		c := login(t, tr, srv, "alice", "a.>", "b.>")
		c.subscribe("a.1", nil)
		c.subscribe("b.1", nil)
		c.send(map[string]any{"type": "auth", "token": testserver.Token(t, "alice", "a.>")})
		c.expect(protocol.TypeAuthOK)
		if f := c.expectError(protocol.CodeForbidden); f.Channel != "b.1" {
			t.Fatalf("forbidden for %q, want b.1", f.Channel)
		}
		if f := c.expect(protocol.TypeUnsubscribed); f.Channel != "b.1" {
			t.Fatalf("unsubscribed %q, want b.1", f.Channel)
		}
		p := login(t, tr, srv, "bob", ">")
		p.publish("b.1", "gone", 1)
		p.publish("a.1", "kept", 1)
		if m := c.expect(protocol.TypeMessage); m.Channel != "a.1" {
			t.Fatalf("got a message on %s after losing it", m.Channel)
		}
	})
}

func sub(channel string) map[string]any {
	return map[string]any{"type": "subscribe", "channel": channel}
}

func pub(channel, payload string) map[string]any {
	return map[string]any{"type": "publish", "channel": channel, "payload": payload}
}

// runLimits checks the abuse controls: each answers with its documented
// error or close code, and nobody else on the node notices.
func runLimits(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		MaxFrameRate: 20, MaxFrameBurst: 10,
		MaxSubscriptions:      3,
		MaxConnectionsPerUser: 2,
		TokenExpiryGrace:      time.Second, SweepInterval: 20 * time.Millisecond,
		Namespaces: hub.Namespaces{Named: map[string]hub.Namespace{
			"slow": {PublishRate: 1, PublishBurst: 2},
		}},
	}})

	t.Run("publish rate per namespace", func(t *testing.T) {
		by := newBystander(t, tr, srv)
		c := login(t, tr, srv, "pubber", ">")
		c.publish("slow.1", "1", 1)
		c.publish("slow.1", "2", 1)
		c.send(map[string]any{"type": "publish", "id": "3", "channel": "slow.1", "payload": 1})
		if f := c.expectError(protocol.CodeRateLimited); f.Ref != "3" {
			t.Fatalf("ref %q", f.Ref)
		}
		// Other namespaces have their own budget.
		c.publish("fast.1", "4", 1)
		by.check(t)
	})

	t.Run("frame flood", func(t *testing.T) {
		by := newBystander(t, tr, srv)
		c := login(t, tr, srv, "flooder", ">")
		for i := range 40 {
			c.send(map[string]any{"type": "ping", "id": fmt.Sprint(i)})
		}
		frames := c.expectClose(protocol.CloseRateLimited, 5*time.Second)
		limited := 0
		for _, f := range frames {
			if f.Type == protocol.TypeError && f.Code == protocol.CodeRateLimited {
				limited++
				// Each refused frame is named, so that a client knows
				// which requests to send again.
				if f.Ref == "" {
					t.Fatalf("rate_limited without the refused frame's id: %+v", f)
				}
			}
		}
		if limited == 0 {
			t.Fatalf("no rate_limited error before the close: %+v", frames)
		}
		by.check(t)
	})

	t.Run("slow frames are fine", func(t *testing.T) {
		c := login(t, tr, srv, "patient", ">")
		for range 15 {
			c.usable()
			time.Sleep(60 * time.Millisecond)
		}
	})

	t.Run("subscriptions per connection", func(t *testing.T) {
		c := login(t, tr, srv, "collector", ">")
		for i := range 3 {
			c.subscribe(fmt.Sprintf("many.%d", i), nil)
		}
		c.send(map[string]any{"type": "subscribe", "channel": "many.3", "id": "4th"})
		if f := c.expectError(protocol.CodeTooLarge); f.Ref != "4th" {
			t.Fatalf("ref %q", f.Ref)
		}
		c.send(map[string]any{"type": "unsubscribe", "channel": "many.0"})
		c.expect(protocol.TypeUnsubscribed)
		c.subscribe("many.3", nil)
	})

	t.Run("connections per user", func(t *testing.T) {
		by := newBystander(t, tr, srv)
		a := login(t, tr, srv, "popular", ">")
		login(t, tr, srv, "popular", ">")
		third := dial(t, tr, srv)
		third.send(map[string]any{"type": "auth", "token": testserver.Token(t, "popular", ">")})
		third.expectError(protocol.CodeForbidden)
		third.expectClose(protocol.ClosePolicy, 3*time.Second)
		a.Drop()
		waitFor(t, "the dropped connection to be gone", 3*time.Second, func() bool {
			return srv.Hub.Stats.Connections.Load() <= 4 // the bystander's two, and one of popular's
		})
		login(t, tr, srv, "popular", ">")
		by.check(t)
	})

	t.Run("refresh as the old token expires", func(t *testing.T) {
		c := dial(t, tr, srv)
		// A token's exp is a whole second: mint one whose exp is known
		// exactly, one to two seconds away.
		exp := time.Now().Truncate(time.Second).Add(2 * time.Second)
		tok, err := auth.Mint(testserver.Secret, "racer", []string{">"}, 2*time.Second, exp.Add(-2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		c.send(map[string]any{"type": "auth", "token": tok})
		c.expect(protocol.TypeAuthOK)
		c.send(sub("race.1"))
		// token_expiring may come first: the token is shorter than the
		// warning.
		for f := c.read(); f.Type != protocol.TypeSubscribed; f = c.read() {
			if f.Type != protocol.TypeTokenExpiring {
				t.Fatalf("got %+v, want subscribed", f)
			}
		}
		// Wait until exp has passed but the one-second grace has not.
		time.Sleep(time.Until(exp.Add(400 * time.Millisecond)))
		c.send(map[string]any{"type": "auth", "id": "late", "token": testserver.Token(t, "racer", ">")})
		for {
			f := c.read()
			if f.Type == protocol.TypeTokenExpiring {
				continue
			}
			if f.Type != protocol.TypeAuthOK || f.ID != "late" {
				t.Fatalf("a refresh inside the grace got %+v", f)
			}
			break
		}
		time.Sleep(1500 * time.Millisecond) // past exp + grace
		c.usable()
		p := login(t, tr, srv, "racer-pub", ">")
		p.publish("race.1", "after", 1)
		c.expect(protocol.TypeMessage)
	})
}
