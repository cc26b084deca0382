package protocoltest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/transport/ws"
)

// runBadInput sends every kind of bad input and checks the documented
// answer, that the connection stays usable where the protocol says so,
// and that a bystander on the same node is not affected.
func runBadInput(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{
		Hub: hub.Config{AuthTimeout: 500 * time.Millisecond, SweepInterval: 50 * time.Millisecond},
		WS:  ws.Config{MaxFrameSize: 4096},
	})
	errorCases := []struct {
		name   string
		authed bool
		frame  string
		code   protocol.Code
		ref    string
	}{
		{"malformed JSON", true, `{"type":"ping"`, protocol.CodeBadRequest, ""},
		{"not an object", true, `"hello"`, protocol.CodeBadRequest, ""},
		{"empty batch", true, `[]`, protocol.CodeBadRequest, ""},
		{"batch too long", true, "[" + strings.Repeat(`{"type":"ping"},`, protocol.MaxBatch) + `{"type":"ping"}]`, protocol.CodeTooLarge, ""},
		{"no type", true, `{"id":"x"}`, protocol.CodeBadRequest, "x"},
		{"unknown type", true, `{"type":"launch","id":"x"}`, protocol.CodeBadRequest, "x"},
		{"server frame type", true, `{"type":"ack","id":"x"}`, protocol.CodeBadRequest, "x"},
		{"wrong field type", true, `{"type":"subscribe","channel":"chat.1","lastSeq":"x"}`, protocol.CodeBadRequest, ""},
		{"subscribe without channel", true, `{"type":"subscribe","id":"x"}`, protocol.CodeBadRequest, "x"},
		{"subscribe to a pattern", true, `{"type":"subscribe","channel":"chat.*","id":"x"}`, protocol.CodeBadRequest, "x"},
		{"channel too long", true, `{"type":"subscribe","channel":"` + strings.Repeat("c", 300) + `","id":"x"}`, protocol.CodeTooLarge, "x"},
		{"publish without id", true, `{"type":"publish","channel":"chat.1","payload":1}`, protocol.CodeBadRequest, ""},
		{"publish without payload", true, `{"type":"publish","channel":"chat.1","id":"x"}`, protocol.CodeBadRequest, "x"},
		{"id too long", true, `{"type":"ping","id":"` + strings.Repeat("i", 200) + `"}`, protocol.CodeTooLarge, ""},
		{"subscribe not granted", true, `{"type":"subscribe","channel":"secret.1","id":"x"}`, protocol.CodeForbidden, "x"},
		{"publish not granted", true, `{"type":"publish","channel":"secret.1","id":"x","payload":1}`, protocol.CodeForbidden, "x"},
		{"pattern edge: chat.* is not chat.1.2", true, `{"type":"subscribe","channel":"room.1.2","id":"x"}`, protocol.CodeForbidden, "x"},
		{"unsubscribe when not subscribed", true, `{"type":"unsubscribe","channel":"chat.9","id":"x"}`, protocol.CodeNotFound, "x"},
		{"subscribe before auth", false, `{"type":"subscribe","channel":"chat.1","id":"x"}`, protocol.CodeUnauthorized, "x"},
		{"publish before auth", false, `{"type":"publish","channel":"chat.1","id":"x","payload":1}`, protocol.CodeUnauthorized, "x"},
		{"auth without token", false, `{"type":"auth","id":"x"}`, protocol.CodeBadRequest, "x"},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			bystander := newBystander(t, tr, srv)
			c := dial(t, tr, srv)
			if tt.authed {
				c.send(map[string]any{"type": "auth", "token": testserver.Token(t, "mallory", "chat.>", "room.*")})
				c.expect(protocol.TypeAuthOK)
			}
			c.SendRaw([]byte(tt.frame))
			if f := c.expectError(tt.code); f.Ref != tt.ref {
				t.Errorf("error ref %q, want %q", f.Ref, tt.ref)
			}
			c.usable()
			bystander.check(t)
		})
	}

	closeCases := []struct {
		name string
		run  func(t *testing.T, c *client)
		code int
	}{
		{"frame over the size limit", func(t *testing.T, c *client) {
			c.send(map[string]any{"type": "auth", "token": testserver.Token(t, "mallory", "chat.>")})
			c.expect(protocol.TypeAuthOK)
			c.SendRaw([]byte(`{"type":"publish","id":"big","channel":"chat.1","payload":"` + strings.Repeat("x", 5000) + `"}`))
		}, protocol.CloseTooBig},
		{"no auth within the deadline", func(*testing.T, *client) {}, protocol.CloseAuthFailed},
		{"frames but no auth within the deadline", func(t *testing.T, c *client) {
			c.send(map[string]any{"type": "ping"})
			c.expect(protocol.TypePong)
		}, protocol.CloseAuthFailed},
		{"invalid token", func(t *testing.T, c *client) {
			c.send(map[string]any{"type": "auth", "token": "not-a-jwt", "id": "a"})
			if f := c.expectError(protocol.CodeUnauthorized); f.Ref != "a" {
				t.Errorf("ref %q", f.Ref)
			}
		}, protocol.CloseAuthFailed},
		{"expired token", func(t *testing.T, c *client) {
			c.send(map[string]any{"type": "auth", "token": testserver.TokenTTL(t, "mallory", -time.Minute, "chat.>")})
			if f := c.expectError(protocol.CodeUnauthorized); !strings.Contains(f.Message, "expired") {
				t.Errorf("message %q does not say the token expired", f.Message)
			}
		}, protocol.CloseAuthFailed},
		{"refresh as another user", func(t *testing.T, c *client) {
			c.send(map[string]any{"type": "auth", "token": testserver.Token(t, "mallory", "chat.>")})
			c.expect(protocol.TypeAuthOK)
			c.send(map[string]any{"type": "auth", "token": testserver.Token(t, "alice", "chat.>")})
			c.expectError(protocol.CodeForbidden)
		}, protocol.CloseForbidden},
	}
	for _, tt := range closeCases {
		t.Run(tt.name, func(t *testing.T) {
			bystander := newBystander(t, tr, srv)
			c := dial(t, tr, srv)
			tt.run(t, c)
			c.expectClose(tt.code, 3*time.Second)
			bystander.check(t)
		})
	}

	if tr.SendBinary != nil {
		t.Run("binary frame", func(t *testing.T) {
			c := login(t, tr, srv, "mallory", "chat.>")
			tr.SendBinary(c.Conn, []byte{1, 2, 3})
			c.expectError(protocol.CodeBadRequest)
			c.usable()
		})
	}

	t.Run("invalid refresh keeps the old identity", func(t *testing.T) {
		c := login(t, tr, srv, "mallory", "chat.>")
		c.send(map[string]any{"type": "auth", "token": "garbage", "id": "r"})
		c.expectError(protocol.CodeUnauthorized)
		c.subscribe("chat.1", nil)
		c.usable()
	})
}

// bystander is a subscriber on the same node whose stream must not be
// disturbed by another connection's bad input.
type bystander struct {
	sub, pub *client
	channel  string
	next     uint64
}

func newBystander(t *testing.T, tr Transport, srv *testserver.Server) *bystander {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	b := &bystander{
		sub:     login(t, tr, srv, "bystander", "bystand.>"),
		pub:     login(t, tr, srv, "bystander-pub", "bystand.>"),
		channel: "bystand." + name,
	}
	b.sub.subscribe(b.channel, nil)
	b.check(t)
	return b
}

// check publishes one message and checks the bystander receives it next.
func (b *bystander) check(t *testing.T) {
	t.Helper()
	b.next++
	b.pub.publish(b.channel, fmt.Sprintf("b%d", b.next), b.next)
	m := b.sub.expect(protocol.TypeMessage)
	if m.Seq != b.next {
		t.Fatalf("bystander got seq %d, want %d", m.Seq, b.next)
	}
}
