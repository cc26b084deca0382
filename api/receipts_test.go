package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestReceipts: positions reported over WebSocket, as GET /api/receipts
// and POST /api/unread see them, and the errors.
func TestReceipts(t *testing.T) {
	srv, c := startNode(t, testserver.Options{Hub: hub.Config{ReceiptInterval: 50 * time.Millisecond}})
	bob, _ := connect(t, srv, "bob", "chat.room")
	for i := 1; i <= 4; i++ {
		c.post(t, "/api/publish", map[string]any{"channel": "chat.room", "payload": i}).expectOK(t)
		bob.Expect(protocol.TypeMessage)
	}
	bob.Send(map[string]any{"type": "receipt", "channel": "chat.room", "seq": 4, "status": "delivered"})
	bob.Send(map[string]any{"type": "receipt", "channel": "chat.room", "seq": 3, "status": "read"})

	var r api.ReceiptsResponse
	deadline := time.Now().Add(10 * time.Second)
	for r.Read["bob"] != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("receipts never showed bob's read position: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
		res := c.get(t, "/api/receipts?channel=chat.room")
		res.expectOK(t)
		res.decode(t, &r)
	}
	if r.Channel != "chat.room" || r.Delivered["bob"] != 4 {
		t.Fatalf("receipts %+v, want bob delivered 4 and read 3", r)
	}

	var u api.UnreadResponse
	res := c.post(t, "/api/unread", map[string]any{"userId": "bob", "channels": []string{"chat.room", "chat.empty"}})
	res.expectOK(t)
	res.decode(t, &u)
	if got := fmt.Sprint(u.Channels); u.UserID != "bob" || got != "[{chat.room 4 3 1} {chat.empty 0 0 0}]" {
		t.Fatalf("unread %s", res.body)
	}

	tests := []struct {
		name   string
		body   any
		doc    docCheck
		status int
		code   protocol.Code
	}{
		{"no user", map[string]any{"channels": []string{"chat.room"}}, docRejects, 400, protocol.CodeBadRequest},
		{"no channels", map[string]any{"userId": "bob", "channels": []string{}}, docRejects, 400, protocol.CodeBadRequest},
		{"invalid channel", map[string]any{"userId": "bob", "channels": []string{"chat.*"}}, docRejects, 400, protocol.CodeBadRequest},
		{"reserved channel", map[string]any{"userId": "bob", "channels": []string{"$herald.control"}}, docSilent, 403, protocol.CodeForbidden},
		{"too many channels", map[string]any{"userId": "bob", "channels": strings.Split(strings.Repeat("c,", 1000)+"c", ",")}, docRejects, 413, protocol.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, call{method: http.MethodPost, path: "/api/unread", body: tt.body, doc: tt.doc}).expectError(t, tt.status, tt.code)
		})
	}
	c.do(t, call{method: http.MethodGet, path: "/api/receipts?channel=chat.*", doc: docRejects}).expectError(t, 400, protocol.CodeBadRequest)
}

// TestStatus: GET /api/status as a user comes and goes.
func TestStatus(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	get := func() api.StatusResponse {
		t.Helper()
		var st api.StatusResponse
		res := c.get(t, "/api/status?user=bob")
		res.expectOK(t)
		res.decode(t, &st)
		return st
	}
	if st := get(); st.UserID != "bob" || st.Online || st.LastSeen != 0 {
		t.Fatalf("never seen: %+v", st)
	}
	ws, _ := connect(t, srv, "bob")
	if st := get(); !st.Online || st.Devices != 1 {
		t.Fatalf("connected: %+v", st)
	}
	_ = ws.Conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for st := get(); st.Online || st.LastSeen == 0; st = get() {
		if time.Now().After(deadline) {
			t.Fatalf("still %+v after the connection closed", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.do(t, call{method: http.MethodGet, path: "/api/status", doc: docRejects}).expectError(t, 400, protocol.CodeBadRequest)
}

// TestState: POST /api/state writes keys, GET /api/state reads them.
func TestState(t *testing.T) {
	_, c := startNode(t, testserver.Options{})
	set := func(key string, value any) api.PublishResponse {
		t.Helper()
		var r api.PublishResponse
		res := c.post(t, "/api/state", map[string]any{"channel": "doc.1", "key": key, "value": value})
		res.expectOK(t)
		res.decode(t, &r)
		return r
	}
	set("title", "draft")
	last := set("title", "final")
	set("gone", 1)
	set("gone", nil)
	var st api.StateResponse
	res := c.get(t, "/api/state?channel=doc.1")
	res.expectOK(t)
	res.decode(t, &st)
	if len(st.Entries) != 1 || string(st.Entries["title"].Value) != `"final"` || st.Entries["title"].Seq != last.Seq {
		t.Fatalf("state %s, want title=final at seq %d only", res.body, last.Seq)
	}
	tests := []struct {
		name   string
		body   any
		doc    docCheck
		status int
		code   protocol.Code
	}{
		{"no key", map[string]any{"channel": "doc.1", "value": 1}, docRejects, 400, protocol.CodeBadRequest},
		{"no value", map[string]any{"channel": "doc.1", "key": "k"}, docRejects, 400, protocol.CodeBadRequest},
		{"key with a quote", map[string]any{"channel": "doc.1", "key": `a"b`, "value": 1}, docRejects, 400, protocol.CodeBadRequest},
		{"status channel", map[string]any{"channel": "status.bob", "key": "k", "value": 1}, docSilent, 403, protocol.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, call{method: http.MethodPost, path: "/api/state", body: tt.body, doc: tt.doc}).expectError(t, tt.status, tt.code)
		})
	}
}
