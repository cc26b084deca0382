package webhook_test

import (
	"testing"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/webhook"
)

// TestSubscribe lets the backend decide subscribes to the "room"
// namespace, which alice's token (chat.>) does not grant.
func TestSubscribe(t *testing.T) {
	cases := []struct {
		name    string
		script  script
		down    bool
		channel string
		// code is the error alice gets; empty means subscribed.
		code    protocol.Code
		message string
		// asked is how many subscribe requests the backend sees.
		asked int
	}{
		{name: "allowed although the token does not grant it", script: allowAll, channel: "room.1", asked: 1},
		{
			name:    "denied with the backend's code",
			script:  answer(200, `{"result":"deny","code":"not_found","message":"no such room"}`),
			channel: "room.1", code: protocol.CodeNotFound, message: "no such room", asked: 1,
		},
		{
			name:    "denied",
			script:  answer(200, `{"result":"deny","message":"members only"}`),
			channel: "room.1", code: protocol.CodeForbidden, message: "members only", asked: 1,
		},
		{
			name:    "backend down",
			down:    true,
			channel: "room.1", code: protocol.CodeInternal, message: unavailable, asked: 0,
		},
		{name: "another namespace follows the token", script: allowAll, channel: "chat.1", asked: 0},
		{
			name: "another namespace the token does not grant", script: allowAll,
			channel: "news.1", code: protocol.CodeForbidden, message: "the token does not grant this channel", asked: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, byEvent(nonNil(tc.script)))
			cfg := webhook.Config{URL: b.srv.URL}
			if tc.down {
				// No retries for the notifications at the end, which
				// cannot be sent either.
				cfg.URL, cfg.NotifyRetries = deadURL(t), -1
			}
			h := newHooks(t, cfg)
			srv := node{namespaces: map[string]hub.Namespace{"room": {SubscribeHook: true}}}.start(t, h)

			c := wstest.Auth(t, srv.URL, testserver.Token(t, "alice", "chat.>"))
			c.Send(map[string]any{"type": "subscribe", "id": "s1", "channel": tc.channel})
			if tc.code == "" {
				f := c.Expect(protocol.TypeSubscribed)
				if f.ID != "s1" || f.Channel != tc.channel {
					t.Errorf("subscribed %+v, want id s1 channel %s", f, tc.channel)
				}
			} else {
				f := c.ExpectError(tc.code)
				if f.Message != tc.message || f.Ref != "s1" || f.Channel != tc.channel {
					t.Errorf("error %+v, want message %q ref s1 channel %s", f, tc.message, tc.channel)
				}
			}
			// The connection goes on either way.
			c.Send(map[string]any{"type": "ping", "id": "p1"})
			c.Expect(protocol.TypePong)

			reqs := b.requests(webhook.EventSubscribe)
			if len(reqs) != tc.asked {
				t.Fatalf("backend saw %d subscribes, want %d", len(reqs), tc.asked)
			}
			if tc.asked > 0 && (reqs[0].Req.Channel != tc.channel || reqs[0].Req.Client.UserID != "alice") {
				t.Errorf("subscribe request %+v, want alice on %s", reqs[0].Req, tc.channel)
			}
			if n := len(b.requests(webhook.EventConnect)); n != 0 {
				t.Errorf("backend saw %d connects without ConnectHook", n)
			}
		})
	}
}

// TestHistoryAsksAsSubscribe: reading the history of a namespace whose
// subscribes the backend decides is decided by it too, as a subscribe;
// a connection subscribed to the channel is not asked about again.
func TestHistoryAsksAsSubscribe(t *testing.T) {
	cases := []struct {
		name   string
		script script
		// code is the error alice gets; empty means a page.
		code protocol.Code
	}{
		{"allowed although the token does not grant it", allowAll, ""},
		{"denied with the backend's code", answer(200, `{"result":"deny","code":"not_found","message":"no such room"}`), protocol.CodeNotFound},
		{"denied", answer(200, `{"result":"deny","message":"members only"}`), protocol.CodeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, byEvent(tc.script))
			h := newHooks(t, webhook.Config{URL: b.srv.URL})
			srv := node{namespaces: map[string]hub.Namespace{"room": {SubscribeHook: true}}}.start(t, h)
			c := wstest.Auth(t, srv.URL, testserver.Token(t, "alice", "chat.>"))
			c.Send(map[string]any{"type": "history", "id": "h1", "channel": "room.1"})
			if tc.code == "" {
				if f := c.Expect(protocol.TypeHistoryPage); f.ID != "h1" || f.Channel != "room.1" {
					t.Errorf("history_page %+v", f)
				}
			} else if f := c.ExpectError(tc.code); f.Ref != "h1" || f.Channel != "room.1" {
				t.Errorf("error %+v, want ref h1 channel room.1", f)
			}
			reqs := b.requests(webhook.EventSubscribe)
			if len(reqs) != 1 || reqs[0].Req.Channel != "room.1" || reqs[0].Req.Client.UserID != "alice" {
				t.Fatalf("backend saw subscribes %+v, want one of alice to room.1", reqs)
			}
		})
	}

	t.Run("subscribed: not asked again", func(t *testing.T) {
		b := newBackend(t, byEvent(allowAll))
		h := newHooks(t, webhook.Config{URL: b.srv.URL})
		srv := node{namespaces: map[string]hub.Namespace{"room": {SubscribeHook: true}}}.start(t, h)
		c := wstest.Auth(t, srv.URL, testserver.Token(t, "alice", "chat.>"))
		c.Send(map[string]any{"type": "subscribe", "id": "s1", "channel": "room.1"})
		c.Expect(protocol.TypeSubscribed)
		for i := range 3 {
			c.Send(map[string]any{"type": "history", "id": "h", "channel": "room.1"})
			if f := c.Expect(protocol.TypeHistoryPage); f.ID != "h" {
				t.Fatalf("page %d: %+v", i, f)
			}
		}
		if n := len(b.requests(webhook.EventSubscribe)); n != 1 {
			t.Fatalf("backend saw %d subscribes, want the subscribe's only", n)
		}
	})
}
