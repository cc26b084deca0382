package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// smallNamespace takes payloads of at most 16 bytes, to check that
// namespace limits apply to the backend too.
var smallNamespace = testserver.Options{Hub: hub.Config{Namespaces: hub.Namespaces{
	Named: map[string]hub.Namespace{"small": {MaxMessageSize: 16}},
}}}

// TestPublish: every documented answer of POST /api/publish.
func TestPublish(t *testing.T) {
	_, c := startNode(t, smallNamespace)
	long := strings.Repeat("a", 129)
	tests := []struct {
		name   string
		call   call
		status int
		code   protocol.Code
		check  func(t *testing.T, r api.PublishResponse)
	}{
		{name: "minimal", call: call{body: map[string]any{"channel": "pub.min", "payload": map[string]any{"text": "hi"}}},
			check: func(t *testing.T, r api.PublishResponse) {
				if len(r.ID) != 32 || r.Channel != "pub.min" || r.Seq != 1 || r.Timestamp <= 0 || r.Duplicate {
					t.Errorf("got %+v, want a generated id, seq 1, a timestamp, not a duplicate", r)
				}
			}},
		{name: "event and key", call: call{body: map[string]any{"channel": "pub.min", "event": "message.new", "payload": 7, "idempotencyKey": "k-1"}},
			check: func(t *testing.T, r api.PublishResponse) {
				if r.ID != "k-1" || r.Seq != 2 || r.Duplicate {
					t.Errorf("got %+v, want id k-1, seq 2", r)
				}
			}},
		{name: "null payload", call: call{raw: []byte(`{"channel":"pub.null","payload":null}`)}},
		{name: "empty key means a generated one", call: call{body: map[string]any{"channel": "pub.min", "payload": "x", "idempotencyKey": ""}},
			check: func(t *testing.T, r api.PublishResponse) {
				if len(r.ID) != 32 {
					t.Errorf("id %q, want a generated one", r.ID)
				}
			}},
		{name: "backend-only namespace", call: call{body: map[string]any{"channel": "user.alice", "payload": true}}},
		{name: "payload within the namespace limit", call: call{body: map[string]any{"channel": "small.1", "payload": "0123456789"}}},

		{name: "no payload", call: call{body: map[string]any{"channel": "pub.err"}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "no channel", call: call{body: map[string]any{"payload": 1}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "invalid channel", call: call{body: map[string]any{"channel": "pub..x", "payload": 1}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "wildcard channel", call: call{body: map[string]any{"channel": "pub.*", "payload": 1}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "channel over 255 bytes", call: call{body: map[string]any{"channel": strings.Repeat("c", 256), "payload": 1}, doc: docRejects}, status: 413, code: protocol.CodeTooLarge},
		{name: "event over 128 bytes", call: call{body: map[string]any{"channel": "pub.err", "event": long, "payload": 1}, doc: docRejects}, status: 413, code: protocol.CodeTooLarge},
		{name: "event with a quote", call: call{body: map[string]any{"channel": "pub.err", "event": `a"b`, "payload": 1}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "key over 128 bytes", call: call{body: map[string]any{"channel": "pub.err", "idempotencyKey": long, "payload": 1}, doc: docRejects}, status: 413, code: protocol.CodeTooLarge},
		{name: "key with a control character", call: call{body: map[string]any{"channel": "pub.err", "idempotencyKey": "a\nb", "payload": 1}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "unknown field", call: call{body: map[string]any{"channel": "pub.err", "payload": 1, "ttl": 5}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "field name in the wrong case", call: call{body: map[string]any{"Channel": "pub.err", "payload": 1}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "wrong type", call: call{body: map[string]any{"channel": 5, "payload": 1}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "not JSON", call: call{raw: []byte(`{"channel":`), doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "JSON but not an object", call: call{raw: []byte(`["pub.err"]`), doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "trailing data", call: call{raw: []byte(`{"channel":"pub.err","payload":1} {}`), doc: docSilent}, status: 400, code: protocol.CodeBadRequest},
		{name: "empty body", call: call{raw: []byte{}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "form body", call: call{raw: []byte("channel=pub.err&payload=1"), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, doc: docRejects}, status: 400, code: protocol.CodeBadRequest},
		{name: "payload over the namespace limit", call: call{body: map[string]any{"channel": "small.1", "payload": strings.Repeat("x", 20)}, doc: docSilent}, status: 413, code: protocol.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.method, tt.call.path = http.MethodPost, "/api/publish"
			res := c.do(t, tt.call)
			if tt.status != 0 {
				res.expectError(t, tt.status, tt.code)
				return
			}
			res.expectOK(t)
			var r api.PublishResponse
			res.decode(t, &r)
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestPublishRetry: a retry with the same idempotency key within the
// dedupe window gets the first answer with duplicate set, and nothing is
// stored twice; the same key on another channel is another publish.
func TestPublishRetry(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	body := map[string]any{"channel": "retry.1", "event": "e", "payload": map[string]any{"n": 1}, "idempotencyKey": "retry-key"}
	var first, again api.PublishResponse
	c.post(t, "/api/publish", body).decode(t, &first)
	// A retry may carry another payload: the key alone decides.
	body["payload"] = map[string]any{"n": 2}
	c.post(t, "/api/publish", body).decode(t, &again)
	if first.Duplicate || !again.Duplicate {
		t.Fatalf("first %+v, retry %+v: want only the retry marked duplicate", first, again)
	}
	if again.ID != first.ID || again.Seq != first.Seq || again.Timestamp != first.Timestamp || again.Channel != first.Channel {
		t.Fatalf("retry %+v, want the first answer %+v", again, first)
	}
	body["channel"] = "retry.2"
	var other api.PublishResponse
	c.post(t, "/api/publish", body).decode(t, &other)
	if other.Duplicate || other.Seq != 1 {
		t.Fatalf("same key on another channel: %+v, want a new publish", other)
	}
	var h api.HistoryResponse
	c.get(t, "/api/history?channel=retry.1").decode(t, &h)
	if h.Head != 1 || len(h.Publications) != 1 || string(h.Publications[0].Payload) != `{"n":1}` {
		t.Fatalf("history after a retry: %+v, want the first message only", h)
	}
	if n := srv.Hub.Stats.MessagesIn.Load(); n != 2 {
		t.Errorf("messagesIn %d, want 2 (the retry is not counted)", n)
	}
}

// TestBroadcast: every documented answer of POST /api/broadcast, and
// per-channel results in request order.
func TestBroadcast(t *testing.T) {
	_, c := startNode(t, smallNamespace)
	many := make([]string, api.MaxBroadcastChannels+1)
	for i := range many {
		many[i] = fmt.Sprintf("many.%d", i)
	}
	tests := []struct {
		name   string
		body   any
		doc    docCheck
		status int
		code   protocol.Code
	}{
		{name: "no channels", body: map[string]any{"channels": []string{}, "payload": 1}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "channels missing", body: map[string]any{"payload": 1}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "over 1000 channels", body: map[string]any{"channels": many, "payload": 1}, doc: docRejects, status: 413, code: protocol.CodeTooLarge},
		{name: "a channel twice", body: map[string]any{"channels": []string{"b.1", "b.1"}, "payload": 1}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "no payload", body: map[string]any{"channels": []string{"b.1"}}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "invalid event", body: map[string]any{"channels": []string{"b.1"}, "event": "a\\b", "payload": 1}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "channels not a list", body: map[string]any{"channels": "b.1", "payload": 1}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "unknown field", body: map[string]any{"channels": []string{"b.1"}, "payload": 1, "channel": "b.2"}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, call{method: http.MethodPost, path: "/api/broadcast", body: tt.body, doc: tt.doc}).expectError(t, tt.status, tt.code)
		})
	}

	t.Run("one invalid channel among valid ones", func(t *testing.T) {
		c.post(t, "/api/publish", map[string]any{"channel": "bc.2", "payload": 0}) // bc.2 starts at seq 2
		body := map[string]any{
			"channels":       []string{"bc.1", "bc..bad", "bc.2", strings.Repeat("x", 256), "small.1"},
			"event":          "notice",
			"payload":        map[string]any{"text": "more than sixteen bytes"},
			"idempotencyKey": "bc-key",
		}
		var r api.BroadcastResponse
		res := c.post(t, "/api/broadcast", body)
		res.expectOK(t)
		res.decode(t, &r)
		want := []struct {
			seq  uint64
			code protocol.Code
		}{{seq: 1}, {code: protocol.CodeBadRequest}, {seq: 2}, {code: protocol.CodeTooLarge}, {code: protocol.CodeTooLarge}}
		if r.ID != "bc-key" || len(r.Results) != len(want) {
			t.Fatalf("got %s, want id bc-key and %d results", res.body, len(want))
		}
		for i, w := range want {
			got := r.Results[i]
			if got.Channel != body["channels"].([]string)[i] {
				t.Errorf("result %d is for %q, want the request's order", i, got.Channel)
			}
			switch {
			case w.code != "" && (got.Error == nil || got.Error.Code != w.code):
				t.Errorf("result %d: %+v, want error %s", i, got, w.code)
			case w.code == "" && (got.Error != nil || got.Seq != w.seq || got.Timestamp <= 0 || got.Duplicate):
				t.Errorf("result %d: %+v, want seq %d", i, got, w.seq)
			}
		}
		// Failures carry no seq and successes no error, on the wire.
		var raw struct{ Results []map[string]json.RawMessage }
		res.decode(t, &raw)
		for i, m := range raw.Results {
			_, hasErr := m["error"]
			_, hasSeq := m["seq"]
			_, hasDup := m["duplicate"]
			if hasErr == (hasSeq || hasDup) {
				t.Errorf("result %d mixes success and failure fields: %v", i, m)
			}
		}

		// The retry publishes nothing again: duplicates where it was stored.
		var again api.BroadcastResponse
		c.post(t, "/api/broadcast", body).decode(t, &again)
		for i, got := range again.Results {
			first := r.Results[i]
			if (first.Error == nil) != (got.Error == nil) || got.Seq != first.Seq || got.Timestamp != first.Timestamp || (first.Error == nil && !got.Duplicate) {
				t.Errorf("retry result %d: %+v, want the first one %+v as a duplicate", i, got, first)
			}
		}
	})

	t.Run("generated key", func(t *testing.T) {
		var r api.BroadcastResponse
		c.post(t, "/api/broadcast", map[string]any{"channels": []string{"bk.1", "bk.2"}, "payload": nil}).decode(t, &r)
		if len(r.ID) != 32 || len(r.Results) != 2 || r.Results[0].Seq != 1 || r.Results[1].Seq != 1 {
			t.Fatalf("got %+v, want a generated id and seq 1 on both", r)
		}
	})
}

// TestPublishOps: POST /api/publish with op and ref edits and deletes any
// message, and refuses what PROTOCOL.md §18 refuses; history returns the
// messages as they stand, in the documented shape.
func TestPublishOps(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	// A user's message, which the backend may change too.
	if _, err := srv.Broker.Publish(t.Context(), "ops.1", &herald.Publication{ID: "u1", From: "alice", Payload: []byte(`{"text":"rude"}`)}); err != nil {
		t.Fatal(err)
	}
	c.post(t, "/api/publish", map[string]any{"channel": "ops.1", "payload": "second"}).expectOK(t)
	c.post(t, "/api/publish", map[string]any{"channel": "ops.1", "payload": "third"}).expectOK(t)
	tests := []struct {
		name   string
		body   map[string]any
		doc    docCheck
		status int
		code   protocol.Code
		seq    uint64
	}{
		{name: "edit a user's message", body: map[string]any{"channel": "ops.1", "op": "edit", "target": 1, "payload": map[string]any{"text": "[moderated]"}}, seq: 4},
		{name: "delete without payload", body: map[string]any{"channel": "ops.1", "op": "delete", "target": 2}, seq: 5},
		{name: "delete with a payload", body: map[string]any{"channel": "ops.1", "op": "delete", "target": 3, "payload": map[string]any{"reason": "spam"}}, seq: 6},
		{name: "a ref never published", body: map[string]any{"channel": "ops.1", "op": "edit", "target": 99, "payload": 1}, status: 404, code: protocol.CodeNotFound},
		{name: "a ref to an op entry", body: map[string]any{"channel": "ops.1", "op": "edit", "target": 4, "payload": 1}, status: 400, code: protocol.CodeBadRequest},
		{name: "a reaction", body: map[string]any{"channel": "ops.1", "op": "react", "target": 1, "payload": "👍"}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "an unknown op", body: map[string]any{"channel": "ops.1", "op": "pin", "target": 1, "payload": 1}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "ref 0", body: map[string]any{"channel": "ops.1", "op": "delete", "target": 0}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "edit without payload", body: map[string]any{"channel": "ops.1", "op": "edit", "target": 1}, doc: docRejects, status: 400, code: protocol.CodeBadRequest},
		{name: "op without ref", body: map[string]any{"channel": "ops.1", "op": "edit", "payload": 1}, doc: docSilent, status: 400, code: protocol.CodeBadRequest},
		{name: "ref without op", body: map[string]any{"channel": "ops.1", "target": 1, "payload": 1}, doc: docSilent, status: 400, code: protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.do(t, call{method: http.MethodPost, path: "/api/publish", body: tt.body, doc: tt.doc})
			if tt.status != 0 {
				res.expectError(t, tt.status, tt.code)
				return
			}
			res.expectOK(t)
			var r api.PublishResponse
			res.decode(t, &r)
			if r.Seq != tt.seq {
				t.Fatalf("acked as seq %d, want %d", r.Seq, tt.seq)
			}
		})
	}

	t.Run("history as it stands", func(t *testing.T) {
		var h api.HistoryResponse
		c.get(t, "/api/history?channel=ops.1").decode(t, &h)
		if len(h.Publications) != 6 {
			t.Fatalf("%d publications, want 6", len(h.Publications))
		}
		p := h.Publications
		if string(p[0].Payload) != `{"text":"[moderated]"}` || p[0].EditedAt != p[3].Timestamp || p[0].From != "alice" || p[0].Deleted {
			t.Errorf("seq 1 is %+v (payload %s), want edited by the API", p[0], p[0].Payload)
		}
		for _, i := range []int{1, 2} {
			if !p[i].Deleted || string(p[i].Payload) != "null" || p[i].EditedAt != 0 {
				t.Errorf("seq %d is %+v (payload %s), want a tombstone", p[i].Seq, p[i], p[i].Payload)
			}
		}
		if p[3].Op != "edit" || p[3].Ref != 1 || p[4].Op != "delete" || p[4].Ref != 2 || string(p[4].Payload) != "null" {
			t.Errorf("op entries %+v, %+v", p[3], p[4])
		}
	})

	t.Run("a broadcast carries no op", func(t *testing.T) {
		c.do(t, call{method: http.MethodPost, path: "/api/broadcast", doc: docRejects,
			body: map[string]any{"channels": []string{"ops.1"}, "op": "edit", "target": 1, "payload": 1}}).expectError(t, 400, protocol.CodeBadRequest)
	})
}
