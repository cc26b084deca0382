package webhook_test

import (
	"context"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/webhook"
)

// TestPublish lets the backend decide alice's publishes to room.1, which
// bob is subscribed to, and checks what each of them sees and what is
// stored.
func TestPublish(t *testing.T) {
	// Sent raw: the backend must see the bytes the client sent, < and &
	// included.
	const sent = `{"text":"hi <3 & bye"}`
	cases := []struct {
		name   string
		script script
		down   bool
		// code is the error alice gets; empty means ack.
		code    protocol.Code
		message string
		// delivered is the payload bob receives and the log holds.
		delivered string
		rewrites  uint64
	}{
		{name: "allowed", script: allowAll, delivered: sent},
		{
			name:   "denied",
			script: answer(200, `{"result":"deny","code":"forbidden","message":"you are muted in this room"}`),
			code:   protocol.CodeForbidden, message: "you are muted in this room",
		},
		{
			name:   "denied as too large",
			script: answer(200, `{"result":"deny","code":"too_large","message":"keep it short"}`),
			code:   protocol.CodeTooLarge, message: "keep it short",
		},
		{
			name:      "payload rewritten",
			script:    answer(200, "{\"result\": \"allow\",\n \"payload\": {\"text\": \"h*\", \"moderated\": true}}"),
			delivered: `{"text":"h*","moderated":true}`, rewrites: 1,
		},
		{
			name:      "payload rewritten to a string",
			script:    answer(200, `{"result":"allow","payload":"[removed]"}`),
			delivered: `"[removed]"`, rewrites: 1,
		},
		{name: "backend down", down: true, code: protocol.CodeInternal, message: unavailable},
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
			srv := node{namespaces: map[string]hub.Namespace{"room": {PublishHook: true}}}.start(t, h)

			bob := wstest.Auth(t, srv.URL, testserver.Token(t, "bob", "room.>"))
			bob.Send(map[string]any{"type": "subscribe", "channel": "room.1"})
			bob.Expect(protocol.TypeSubscribed)
			// alice's token grants nothing: the backend alone decides.
			alice := wstest.Auth(t, srv.URL, testserver.Token(t, "alice"))
			alice.SendRaw([]byte(`{"type":"publish","id":"p1","channel":"room.1","event":"message.new","payload":` + sent + `}`))

			if tc.code == "" {
				ack := alice.Expect(protocol.TypeAck)
				if ack.ID != "p1" || ack.Seq != 1 {
					t.Errorf("ack %+v, want p1 seq 1", ack)
				}
				m := bob.Expect(protocol.TypeMessage)
				if string(m.Payload) != tc.delivered || m.Seq != 1 || m.From != "alice" || m.Event != "message.new" {
					t.Errorf("bob got %+v payload %s, want seq 1 from alice payload %s", m, m.Payload, tc.delivered)
				}
			} else {
				f := alice.ExpectError(tc.code)
				if f.Message != tc.message || f.Ref != "p1" || f.Channel != "room.1" {
					t.Errorf("error %+v, want message %q ref p1 channel room.1", f, tc.message)
				}
				// Nothing reaches bob: his next frame answers his ping.
				bob.Send(map[string]any{"type": "ping"})
				bob.Expect(protocol.TypePong)
			}

			hist, err := srv.Broker.History(context.Background(), "room.1", herald.HistoryRequest{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.delivered == "" && hist.Head != 0:
				t.Errorf("a refused publish was stored: head %d", hist.Head)
			case tc.delivered != "" && (len(hist.Publications) != 1 || string(hist.Publications[0].Payload) != tc.delivered):
				t.Errorf("log holds %d publications, want one with payload %s", len(hist.Publications), tc.delivered)
			}
			if got := h.Stats.Rewrites.Load(); got != tc.rewrites {
				t.Errorf("stats: %d rewrites, want %d", got, tc.rewrites)
			}
			if !tc.down {
				reqs := b.requests(webhook.EventPublish)
				if len(reqs) != 1 {
					t.Fatalf("backend saw %d publishes, want 1", len(reqs))
				}
				r := reqs[0].Req
				if r.Channel != "room.1" || r.EventName != "message.new" || string(r.Payload) != sent || r.Client.UserID != "alice" {
					t.Errorf("publish request %+v payload %s", r, r.Payload)
				}
			}
		})
	}
}
