package protocoltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// opsAPIKey is the server API key of the ops suite's node.
const opsAPIKey = "ops-suite-api-key"

// runOps checks edits, deletes and reactions: op entries delivered live
// as they are, replays and history pages that return each message as it
// stands, who may change what, and what refs are refused.
func runOps(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{
		APIKeys: []string{opsAPIKey},
		Hub: hub.Config{
			// Small replay pages, so that a replay folds op entries that
			// lie pages after the messages they change.
			ReplayPage: 4,
			Namespaces: hub.Namespaces{Named: map[string]hub.Namespace{"live": {NoHistory: true}}},
		},
	})

	t.Run("edit: live as it is, replayed as it stands", func(t *testing.T) {
		ch := "ops.edit"
		bob := login(t, tr, srv, "bob", "ops.>")
		bob.subscribe(ch, nil)
		alice := login(t, tr, srv, "alice", "ops.>")
		orig := alice.publish(ch, "m1", map[string]any{"text": "hi"})
		first := alice.op(ch, "e1", protocol.OpEdit, orig.Seq, map[string]any{"text": "hi!"})
		second := alice.op(ch, "e2", protocol.OpEdit, orig.Seq, map[string]any{"text": "hi!!"})
		expectMessage(t, bob.expect(protocol.TypeMessage), protocol.Frame{Seq: 1, ID: "m1", Payload: raw(`{"text":"hi"}`), From: "alice", Timestamp: orig.Timestamp})
		expectMessage(t, bob.expect(protocol.TypeMessage), protocol.Frame{Seq: 2, ID: "e1", Op: protocol.OpEdit, Target: 1, Payload: raw(`{"text":"hi!"}`), From: "alice", Timestamp: first.Timestamp})
		expectMessage(t, bob.expect(protocol.TypeMessage), protocol.Frame{Seq: 3, ID: "e2", Op: protocol.OpEdit, Target: 1, Payload: raw(`{"text":"hi!!"}`), From: "alice", Timestamp: second.Timestamp})

		edited := protocol.Frame{Seq: 1, ID: "m1", Payload: raw(`{"text":"hi!!"}`), From: "alice", Timestamp: orig.Timestamp, EditedAt: second.Timestamp}
		late := login(t, tr, srv, "carol", "ops.>")
		late.subscribe(ch, u64(0))
		expectMessage(t, late.expect(protocol.TypeMessage), edited)
		expectMessage(t, late.expect(protocol.TypeMessage), protocol.Frame{Seq: 2, ID: "e1", Op: protocol.OpEdit, Target: 1, Payload: raw(`{"text":"hi!"}`), From: "alice", Timestamp: first.Timestamp})
		expectMessage(t, late.expect(protocol.TypeMessage), protocol.Frame{Seq: 3, ID: "e2", Op: protocol.OpEdit, Target: 1, Payload: raw(`{"text":"hi!!"}`), From: "alice", Timestamp: second.Timestamp})
		page := late.history(map[string]any{"channel": ch})
		if len(page.Messages) != 3 {
			t.Fatalf("history of %d messages, want 3", len(page.Messages))
		}
		expectMessage(t, page.Messages[0], edited)
		if page.Messages[1].Op != protocol.OpEdit || page.Messages[2].Target != 1 {
			t.Fatalf("history's op entries %+v", page.Messages[1:])
		}
	})

	t.Run("delete: a tombstone in history and replay", func(t *testing.T) {
		ch := "ops.delete"
		alice := login(t, tr, srv, "alice", "ops.>")
		orig := alice.publish(ch, "m1", map[string]any{"text": "oops"})
		alice.publish(ch, "m2", "kept")
		alice.op(ch, "r1", protocol.OpReact, orig.Seq, "👍")
		alice.op(ch, "e1", protocol.OpEdit, orig.Seq, "edited first")
		del := alice.opRaw(map[string]any{"type": "publish", "id": "d1", "channel": ch, "op": "delete", "target": orig.Seq})
		if del.Type != protocol.TypeAck || del.Seq != 5 {
			t.Fatalf("delete without payload got %+v", del)
		}
		// Ops after a delete change nothing.
		alice.op(ch, "e2", protocol.OpEdit, orig.Seq, "too late")
		alice.op(ch, "r2", protocol.OpReact, orig.Seq, "❤️")
		tomb := protocol.Frame{Seq: 1, ID: "m1", Payload: raw(`null`), From: "alice", Timestamp: orig.Timestamp, Deleted: true}
		page := alice.history(map[string]any{"channel": ch, "after": 0})
		if len(page.Messages) != 7 {
			t.Fatalf("history of %d messages, want 7", len(page.Messages))
		}
		expectMessage(t, page.Messages[0], tomb)
		if m := page.Messages[1]; string(m.Payload) != `"kept"` || m.Deleted || m.EditedAt != 0 {
			t.Fatalf("an untouched message came back as %+v", m)
		}
		if m := page.Messages[4]; m.Op != protocol.OpDelete || m.Target != 1 || string(m.Payload) != "null" {
			t.Fatalf("the delete's own entry is %+v (payload %s)", m, m.Payload)
		}
		late := login(t, tr, srv, "carol", "ops.>")
		late.subscribe(ch, u64(0))
		expectMessage(t, late.expect(protocol.TypeMessage), tomb)
		expectRun(t, late, ch, 2, 7)
	})

	t.Run("reactions: two users and an unreact", func(t *testing.T) {
		ch := "ops.react"
		alice := login(t, tr, srv, "alice", "ops.>")
		bob := login(t, tr, srv, "bob", "ops.>")
		carol := login(t, tr, srv, "carol", "ops.>")
		alice.publish(ch, "m1", "react to me")
		bob.op(ch, "b1", protocol.OpReact, 1, "👍")
		carol.op(ch, "c1", protocol.OpReact, 1, "❤️")
		carol.op(ch, "c2", protocol.OpReact, 1, "👍")
		bob.op(ch, "b2", protocol.OpReact, 1, "👍") // again: no change
		bob.op(ch, "b3", protocol.OpReact, 1, "🎉")
		bob.op(ch, "b4", protocol.OpUnreact, 1, "🎉")
		carol.op(ch, "c3", protocol.OpUnreact, 1, "❤️")
		carol.op(ch, "c4", protocol.OpReact, 1, "❤️")  // back, now after bob's 👍
		carol.op(ch, "c5", protocol.OpUnreact, 1, "🙈") // never there
		want := map[string]protocol.Reaction{
			"👍":  {Count: 2, Users: []string{"bob", "carol"}},
			"❤️": {Count: 1, Users: []string{"carol"}},
		}
		check := func(t *testing.T, where string, m protocol.Frame) {
			t.Helper()
			if m.Seq != 1 || string(m.Payload) != `"react to me"` || !reflect.DeepEqual(m.Reactions, want) {
				t.Fatalf("%s: %+v, want reactions %v", where, m, want)
			}
		}
		page := alice.history(map[string]any{"channel": ch, "limit": 1, "before": 2})
		check(t, "history", page.Messages[0])
		late := login(t, tr, srv, "dave", "ops.>")
		late.subscribe(ch, u64(0))
		check(t, "replay", late.expect(protocol.TypeMessage))
	})

	t.Run("a summary names the first users", func(t *testing.T) {
		ch := "ops.many"
		alice := login(t, tr, srv, "alice", "ops.>")
		alice.publish(ch, "m1", 1)
		users := protocol.ReactionUsers + 3
		for i := range users {
			u := login(t, tr, srv, fmt.Sprint("fan-", i), "ops.>")
			u.op(ch, fmt.Sprint("r", i), protocol.OpReact, 1, "👏")
		}
		r := alice.history(map[string]any{"channel": ch, "limit": 1, "before": 2}).Messages[0].Reactions["👏"]
		if r.Count != users || len(r.Users) != protocol.ReactionUsers || r.Users[0] != "fan-0" || r.Users[protocol.ReactionUsers-1] != fmt.Sprint("fan-", protocol.ReactionUsers-1) {
			t.Fatalf("summary %+v, want count %d and the first %d fans", r, users, protocol.ReactionUsers)
		}
	})

	t.Run("folded across replay pages", func(t *testing.T) {
		ch := "ops.far"
		alice := login(t, tr, srv, "alice", "ops.>")
		orig := alice.publish(ch, "m1", "first")
		publishBatch(t, alice, ch, 2, 20)
		edit := alice.op(ch, "e1", protocol.OpEdit, orig.Seq, "first, edited")
		alice.op(ch, "r1", protocol.OpReact, 3, "👀")
		late := login(t, tr, srv, "bob", "ops.>")
		late.subscribe(ch, u64(0))
		expectMessage(t, late.expect(protocol.TypeMessage), protocol.Frame{Seq: 1, ID: "m1", Payload: raw(`"first, edited"`), From: "alice", Timestamp: orig.Timestamp, EditedAt: edit.Timestamp})
		late.expect(protocol.TypeMessage) // seq 2
		if m := late.expect(protocol.TypeMessage); m.Seq != 3 || m.Reactions["👀"].Count != 1 {
			t.Fatalf("seq 3 replayed as %+v, want alice's 👀", m)
		}
		expectRun(t, late, ch, 4, 22)
		// A page far behind the head is folded too.
		p := late.history(map[string]any{"channel": ch, "after": 0, "limit": 3})
		if string(p.Messages[0].Payload) != `"first, edited"` || p.Messages[2].Reactions["👀"].Count != 1 {
			t.Fatalf("first page %+v", p.Messages)
		}
	})

	t.Run("who may change what", func(t *testing.T) {
		ch := "ops.perm"
		alice := login(t, tr, srv, "alice", "ops.>")
		orig := alice.publish(ch, "m1", "alice's")
		mallory := login(t, tr, srv, "mallory", "ops.>")
		for _, op := range []string{protocol.OpEdit, protocol.OpDelete} {
			f := mallory.opRaw(map[string]any{"type": "publish", "id": "x-" + op, "channel": ch, "op": op, "target": orig.Seq, "payload": "mine now"})
			if f.Type != protocol.TypeError || f.Code != protocol.CodeForbidden || f.Ref != "x-"+op || f.Channel != ch {
				t.Fatalf("%s of another's message got %+v", op, f)
			}
		}
		// Reacting is anyone's.
		mallory.op(ch, "x-react", protocol.OpReact, orig.Seq, "👎")
		// Publishing at all needs the channel.
		outsider := login(t, tr, srv, "eve", "elsewhere.>")
		if f := outsider.opRaw(map[string]any{"type": "publish", "id": "o", "channel": ch, "op": "react", "target": 1, "payload": "👍"}); f.Code != protocol.CodeForbidden {
			t.Fatalf("a reaction without the channel got %+v", f)
		}
		page := alice.history(map[string]any{"channel": ch, "limit": 1, "before": 2})
		if m := page.Messages[0]; string(m.Payload) != `"alice's"` || m.Deleted || m.Reactions["👎"].Count != 1 {
			t.Fatalf("the message after refused edits is %+v", m)
		}
	})

	t.Run("refused refs", func(t *testing.T) {
		ch := "ops.refs"
		alice := login(t, tr, srv, "alice", "ops.>", "live.>")
		alice.publish(ch, "m1", 1)
		alice.op(ch, "r1", protocol.OpReact, 1, "👍")
		alice.publish("live.1", "l1", 1)
		tests := []struct {
			name  string
			frame map[string]any
			code  protocol.Code
		}{
			{"a seq never published", map[string]any{"op": "edit", "target": 99, "payload": 1}, protocol.CodeNotFound},
			{"an op entry", map[string]any{"op": "edit", "target": 2, "payload": 1}, protocol.CodeBadRequest},
			{"a reaction to an op entry", map[string]any{"op": "react", "target": 2, "payload": "👍"}, protocol.CodeBadRequest},
			{"a namespace without history", map[string]any{"channel": "live.1", "op": "edit", "target": 1, "payload": 1}, protocol.CodeNotFound},
			{"op without ref", map[string]any{"op": "edit", "payload": 1}, protocol.CodeBadRequest},
			{"ref without op", map[string]any{"target": 1, "payload": 1}, protocol.CodeBadRequest},
			{"ref 0", map[string]any{"op": "delete", "target": 0}, protocol.CodeBadRequest},
			{"unknown op", map[string]any{"op": "pin", "target": 1, "payload": 1}, protocol.CodeBadRequest},
			{"edit without payload", map[string]any{"op": "edit", "target": 1}, protocol.CodeBadRequest},
			{"reaction key not a string", map[string]any{"op": "react", "target": 1, "payload": 1}, protocol.CodeBadRequest},
			{"reaction key too long", map[string]any{"op": "react", "target": 1, "payload": string(bytes.Repeat([]byte("k"), protocol.MaxReactionLen+1))}, protocol.CodeTooLarge},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := map[string]any{"type": "publish", "id": "q", "channel": ch}
				for k, v := range tt.frame {
					f[k] = v
				}
				got := alice.opRaw(f)
				if got.Type != protocol.TypeError || got.Code != tt.code || got.Ref != "q" {
					t.Fatalf("got %+v, want error %s with ref q", got, tt.code)
				}
			})
		}
		alice.usable()
	})

	t.Run("a retried op is acked once and applied once", func(t *testing.T) {
		ch := "ops.retry"
		bob := login(t, tr, srv, "bob", "ops.>")
		bob.subscribe(ch, nil)
		alice := login(t, tr, srv, "alice", "ops.>")
		alice.publish(ch, "m1", 1)
		first := alice.op(ch, "same", protocol.OpEdit, 1, 2)
		again := alice.op(ch, "same", protocol.OpEdit, 1, 2)
		if again.Seq != first.Seq || again.Timestamp != first.Timestamp {
			t.Fatalf("retry acked %+v, first %+v", again, first)
		}
		expectRun(t, bob, ch, 1, 2)
		bob.usable()
	})

	t.Run("the server API edits and deletes any message", func(t *testing.T) {
		ch := "ops.api"
		bob := login(t, tr, srv, "bob", "ops.>")
		bob.subscribe(ch, nil)
		alice := login(t, tr, srv, "alice", "ops.>")
		orig := alice.publish(ch, "m1", map[string]any{"text": "rude"})
		alice.publish(ch, "m2", "fine")
		status, body := apiPublish(t, srv, map[string]any{"channel": ch, "op": "edit", "target": orig.Seq, "payload": map[string]any{"text": "[moderated]"}, "idempotencyKey": "mod-1"})
		if status != http.StatusOK || body["seq"] != 3.0 {
			t.Fatalf("API edit: %d %v", status, body)
		}
		status, body = apiPublish(t, srv, map[string]any{"channel": ch, "op": "delete", "target": 2})
		if status != http.StatusOK || body["seq"] != 4.0 {
			t.Fatalf("API delete without payload: %d %v", status, body)
		}
		for _, bad := range []struct {
			req    map[string]any
			status int
		}{
			{map[string]any{"channel": ch, "op": "react", "target": 1, "payload": "👍"}, http.StatusBadRequest},
			{map[string]any{"channel": ch, "op": "edit", "target": 50, "payload": 1}, http.StatusNotFound},
			{map[string]any{"channel": ch, "op": "edit", "target": 3, "payload": 1}, http.StatusBadRequest},
			{map[string]any{"channel": ch, "op": "edit", "payload": 1}, http.StatusBadRequest},
		} {
			if status, body := apiPublish(t, srv, bad.req); status != bad.status {
				t.Errorf("API %v: %d %v, want %d", bad.req, status, body, bad.status)
			}
		}
		expectRun(t, bob, ch, 1, 2)
		if m := bob.expect(protocol.TypeMessage); m.Op != protocol.OpEdit || m.Target != 1 || m.From != "" || string(m.Payload) != `{"text":"[moderated]"}` {
			t.Fatalf("the live edit is %+v", m)
		}
		if m := bob.expect(protocol.TypeMessage); m.Op != protocol.OpDelete || m.Target != 2 {
			t.Fatalf("the live delete is %+v", m)
		}
		page := bob.history(map[string]any{"channel": ch, "limit": 2, "before": 3})
		if m := page.Messages[0]; string(m.Payload) != `{"text":"[moderated]"}` || m.EditedAt == 0 || m.From != "alice" {
			t.Fatalf("edited by the API: %+v", m)
		}
		if m := page.Messages[1]; !m.Deleted || string(m.Payload) != "null" {
			t.Fatalf("deleted by the API: %+v", m)
		}
	})
}

// op publishes an op entry and returns its ack, skipping message frames.
func (c *client) op(channel, id, op string, ref uint64, payload any) protocol.Frame {
	c.t.Helper()
	f := c.opRaw(map[string]any{"type": "publish", "id": id, "channel": channel, "op": op, "target": ref, "payload": payload})
	if f.Type != protocol.TypeAck || f.ID != id || f.Channel != channel {
		c.t.Fatalf("%s of %d got %+v (%s), want the ack of %s", op, ref, f, f.Message, id)
	}
	return f
}

// opRaw sends a frame and returns the reply to it, an ack or an error,
// skipping message frames.
func (c *client) opRaw(frame map[string]any) protocol.Frame {
	c.t.Helper()
	c.send(frame)
	for {
		f := c.read()
		if f.Type != protocol.TypeMessage {
			return f
		}
	}
}

// expectMessage checks a message (a frame or a history page's element)
// against want's seq, id, op, ref, payload, from, timestamp, editedAt,
// deleted and reactions.
func expectMessage(t *testing.T, got, want protocol.Frame) {
	t.Helper()
	if got.Seq != want.Seq || got.ID != want.ID || got.Op != want.Op || got.Target != want.Target ||
		!bytes.Equal(got.Payload, want.Payload) || got.From != want.From || got.Timestamp != want.Timestamp ||
		got.EditedAt != want.EditedAt || got.Deleted != want.Deleted || !reflect.DeepEqual(got.Reactions, want.Reactions) {
		t.Fatalf("message %+v (payload %s),\nwant %+v (payload %s)", got, got.Payload, want, want.Payload)
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// apiPublish posts to the node's POST /api/publish and returns the status
// and the decoded answer.
func apiPublish(t *testing.T, srv *testserver.Server, req map[string]any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodPost, srv.HTTP+"/api/publish", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+opsAPIKey)
	r.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("API answer: %v", err)
	}
	return resp.StatusCode, out
}
