package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// connect opens an authenticated raw WebSocket for user, subscribes it to
// channels, and returns it with its connection id.
func connect(t *testing.T, srv *testserver.Server, user string, channels ...string) (*wstest.Client, string) {
	t.Helper()
	ws := wstest.Dial(t, srv.URL)
	ws.Send(map[string]any{"type": "auth", "token": testserver.Token(t, user, "chat.>", "chan.>", "live.>")})
	ok := ws.Expect(protocol.TypeAuthOK)
	for _, ch := range channels {
		subscribe(t, ws, ch)
	}
	return ws, ok.ConnectionID
}

func subscribe(t *testing.T, ws *wstest.Client, channel string) {
	t.Helper()
	ws.Send(map[string]any{"type": "subscribe", "channel": channel})
	if f := ws.Expect(protocol.TypeSubscribed); f.Channel != channel {
		t.Fatalf("subscribed to %q, want %q", f.Channel, channel)
	}
}

// TestPresence: two users with three connections between them, and a
// third user connected elsewhere, as GET /api/presence sees them.
func TestPresence(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	connect(t, srv, "alice", "chat.room")
	connect(t, srv, "alice", "chat.room")
	connect(t, srv, "bob", "chat.room", "chat.other")
	connect(t, srv, "carol", "chat.other")

	t.Run("two users, three connections", func(t *testing.T) {
		var p api.PresenceResponse
		res := c.get(t, "/api/presence?channel=chat.room")
		res.expectOK(t)
		res.decode(t, &p)
		want := []api.Member{{UserID: "alice", Connections: 2}, {UserID: "bob", Connections: 1}}
		if p.Channel != "chat.room" || !slices.EqualFunc(p.Members, want, func(a, b api.Member) bool {
			return a.UserID == b.UserID && a.Connections == b.Connections && a.Info == nil
		}) {
			t.Fatalf("got %s, want alice with 2 connections and bob with 1", res.body)
		}
	})

	t.Run("nobody subscribed", func(t *testing.T) {
		res := c.get(t, "/api/presence?channel=chat.empty")
		res.expectOK(t)
		if m, ok := res.fields(t)["members"].([]any); !ok || len(m) != 0 {
			t.Fatalf("got %s, want an empty list of members", res.body)
		}
	})

	tests := []struct {
		name   string
		query  string
		doc    docCheck
		status int
		code   protocol.Code
	}{
		{"no channel", "", docRejects, 400, protocol.CodeBadRequest},
		{"invalid channel", "channel=chat.*", docRejects, 400, protocol.CodeBadRequest},
		{"channel over 255 bytes", "channel=" + strings.Repeat("c", 256), docRejects, 413, protocol.CodeTooLarge},
		{"unknown parameter", "channel=chat.room&node=2", docSilent, 400, protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, call{method: http.MethodGet, path: "/api/presence?" + tt.query, doc: tt.doc}).expectError(t, tt.status, tt.code)
		})
	}
}

// TestDisconnect: by user (every connection of the user closes with 4003,
// others stay), by connection id with reconnect (1012), and the errors.
func TestDisconnect(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	disconnect := func(t *testing.T, body map[string]any) int {
		t.Helper()
		res := c.post(t, "/api/disconnect", body)
		res.expectOK(t)
		var r api.DisconnectResponse
		res.decode(t, &r)
		return r.Disconnected
	}

	t.Run("by user", func(t *testing.T) {
		a1, _ := connect(t, srv, "dave", "chat.d")
		a2, _ := connect(t, srv, "dave")
		other, _ := connect(t, srv, "erin", "chat.d")
		if n := disconnect(t, map[string]any{"userId": "dave"}); n != 2 {
			t.Fatalf("disconnected %d, want dave's 2", n)
		}
		for _, ws := range []*wstest.Client{a1, a2} {
			expectClose(t, ws, protocol.CloseForbidden, protocol.CloseCodes[protocol.CloseForbidden])
		}
		other.Send(map[string]any{"type": "ping", "id": "p"})
		other.Expect(protocol.TypePong)
	})

	t.Run("by connection with reconnect", func(t *testing.T) {
		keep, _ := connect(t, srv, "frank")
		drop, id := connect(t, srv, "frank")
		if n := disconnect(t, map[string]any{"connectionId": id, "reconnect": true, "reason": "moving you"}); n != 1 {
			t.Fatalf("disconnected %d, want 1", n)
		}
		expectClose(t, drop, protocol.CloseServiceRestart, "moving you")
		keep.Send(map[string]any{"type": "ping"})
		keep.Expect(protocol.TypePong)
	})

	t.Run("connection of another user", func(t *testing.T) {
		ws, id := connect(t, srv, "grace")
		if n := disconnect(t, map[string]any{"userId": "heidi", "connectionId": id}); n != 0 {
			t.Fatalf("disconnected %d, want 0: the connection is grace's", n)
		}
		ws.Send(map[string]any{"type": "ping"})
		ws.Expect(protocol.TypePong)
	})

	t.Run("nobody to disconnect", func(t *testing.T) {
		if n := disconnect(t, map[string]any{"userId": "nobody"}); n != 0 {
			t.Fatalf("disconnected %d, want 0", n)
		}
	})

	tests := []struct {
		name   string
		body   any
		doc    docCheck
		status int
		code   protocol.Code
	}{
		{"neither user nor connection", map[string]any{"reconnect": true}, docRejects, 400, protocol.CodeBadRequest},
		{"empty user", map[string]any{"userId": ""}, docRejects, 400, protocol.CodeBadRequest},
		{"reason over 123 bytes", map[string]any{"userId": "x", "reason": strings.Repeat("r", 124)}, docRejects, 413, protocol.CodeTooLarge},
		{"unknown field", map[string]any{"userId": "x", "code": 4000}, docRejects, 400, protocol.CodeBadRequest},
		{"reconnect not a boolean", map[string]any{"userId": "x", "reconnect": "yes"}, docRejects, 400, protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, call{method: http.MethodPost, path: "/api/disconnect", body: tt.body, doc: tt.doc}).expectError(t, tt.status, tt.code)
		})
	}
}

// expectClose reads until ws is closed, and fails unless with code and
// reason.
func expectClose(t *testing.T, ws *wstest.Client, code int, reason string) {
	t.Helper()
	deadline := time.Now().Add(wstest.Timeout)
	for {
		_, err := ws.Next(time.Until(deadline))
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("want close %d, got %v", code, err)
		}
		if int(ce.Code) != code || ce.Reason != reason {
			t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
		}
		return
	}
}

// TestChannels: listing and paging the channels with subscribers.
func TestChannels(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	var names []string
	for i := 1; i <= 5; i++ {
		names = append(names, fmt.Sprintf("chan.a.%d", i))
	}
	connect(t, srv, "ivan", append(names, "chat.z")...)
	connect(t, srv, "judy", "chan.a.3")

	list := func(t *testing.T, query string) api.ChannelsResponse {
		t.Helper()
		res := c.get(t, "/api/channels?"+query)
		res.expectOK(t)
		var r api.ChannelsResponse
		res.decode(t, &r)
		return r
	}

	t.Run("paging", func(t *testing.T) {
		var got []api.ChannelInfo
		query, pages := "prefix=chan.a.&limit=2", 0
		for {
			r := list(t, query)
			pages++
			got = append(got, r.Channels...)
			if r.Next == nil {
				break
			}
			if len(r.Channels) != 2 || r.Next.After != r.Channels[1].Name {
				t.Fatalf("page %d: %+v, want 2 channels and next after the last", pages, r)
			}
			query = "prefix=chan.a.&limit=2&after=" + r.Next.After
		}
		want := []api.ChannelInfo{{"chan.a.1", 1}, {"chan.a.2", 1}, {"chan.a.3", 2}, {"chan.a.4", 1}, {"chan.a.5", 1}}
		if pages != 3 || !slices.Equal(got, want) {
			t.Fatalf("%d pages with %+v, want 3 pages with %+v", pages, got, want)
		}
	})

	t.Run("all", func(t *testing.T) {
		r := list(t, "")
		if len(r.Channels) != 6 || r.Channels[5].Name != "chat.z" || r.Next != nil {
			t.Fatalf("got %+v, want the 6 channels sorted, on one page", r)
		}
	})

	// One node: the cluster is the node, and scope=node lists the same.
	t.Run("scope", func(t *testing.T) {
		for _, scope := range []string{"", "scope=cluster", "scope=node"} {
			r := list(t, scope)
			if len(r.Channels) != 6 || r.Nodes != 1 || r.Answered != 1 {
				t.Fatalf("%q: got %+v, want 6 channels, nodes 1, answered 1", scope, r)
			}
		}
	})

	t.Run("none", func(t *testing.T) {
		res := c.get(t, "/api/channels?prefix=nothing.")
		if ch, ok := res.fields(t)["channels"].([]any); !ok || len(ch) != 0 {
			t.Fatalf("got %s, want an empty list", res.body)
		}
	})

	tests := []struct {
		name  string
		query string
		doc   docCheck
	}{
		{"limit 0", "limit=0", docRejects},
		{"limit over 1000", "limit=1001", docRejects},
		{"prefix over 255 bytes", "prefix=" + strings.Repeat("p", 256), docRejects},
		{"unknown parameter", "pattern=chan.*", docSilent},
		{"unknown scope", "scope=everywhere", docRejects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, call{method: http.MethodGet, path: "/api/channels?" + tt.query, doc: tt.doc}).expectError(t, 400, protocol.CodeBadRequest)
		})
	}
}

// TestPresenceOff: a namespace with presence off answers forbidden.
func TestPresenceOff(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{APIKeys: []string{testKey}, Hub: hub.Config{
		Namespaces: hub.Namespaces{Named: map[string]hub.Namespace{"quiet": {NoPresence: true}}},
	}})
	c := newClient(t, srv.HTTP, testKey)
	c.get(t, "/api/presence?channel=quiet.1").expectError(t, http.StatusForbidden, protocol.CodeForbidden)
}
