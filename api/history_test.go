package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestHistoryPaging: 25 messages read 10 at a time, forward from the
// start and backward from the end: the pages join up exactly (no gap, no
// overlap), each page's cursors point at its neighbours, and both walks
// see the same messages.
func TestHistoryPaging(t *testing.T) {
	_, c := startNode(t, testserver.Options{})
	const n, limit = 25, 10
	for i := 1; i <= n; i++ {
		c.post(t, "/api/publish", map[string]any{
			"channel": "paging.1", "event": "message.new", "payload": map[string]any{"n": i}, "idempotencyKey": fmt.Sprintf("m-%d", i),
		}).expectOK(t)
	}
	page := func(t *testing.T, query string) api.HistoryResponse {
		t.Helper()
		res := c.get(t, "/api/history?channel=paging.1&limit=10&"+query)
		res.expectOK(t)
		var h api.HistoryResponse
		res.decode(t, &h)
		if h.Channel != "paging.1" || h.Head != n || h.Oldest != 1 {
			t.Fatalf("%s: channel %q head %d oldest %d, want paging.1, %d, 1", query, h.Channel, h.Head, h.Oldest, n)
		}
		for i, p := range h.Publications {
			var body struct{ N uint64 }
			if err := json.Unmarshal(p.Payload, &body); err != nil || body.N != p.Seq || p.ID != fmt.Sprintf("m-%d", p.Seq) ||
				p.Event != "message.new" || p.From != "" || p.Timestamp <= 0 {
				t.Errorf("%s: publication %+v (payload %s) is not message %d as published", query, p, p.Payload, p.Seq)
			}
			if i > 0 && p.Seq != h.Publications[i-1].Seq+1 {
				t.Errorf("%s: seq %d after %d, want oldest first with no gap", query, p.Seq, h.Publications[i-1].Seq)
			}
		}
		return h
	}
	seqs := func(h api.HistoryResponse) []uint64 {
		var s []uint64
		for _, p := range h.Publications {
			s = append(s, p.Seq)
		}
		return s
	}
	span := func(from, to uint64) []uint64 {
		var s []uint64
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}

	t.Run("forward", func(t *testing.T) {
		want := []struct {
			from, to   uint64
			next, prev uint64 // 0: absent
		}{{1, 10, 10, 0}, {11, 20, 20, 11}, {21, 25, 0, 21}}
		var all []uint64
		query := "after=0"
		for i, w := range want {
			h := page(t, query)
			if got := seqs(h); !slices.Equal(got, span(w.from, w.to)) {
				t.Fatalf("page %d (%s): seqs %v, want %d..%d", i, query, got, w.from, w.to)
			}
			checkCursors(t, h, w.next, w.prev)
			all = append(all, seqs(h)...)
			if h.Next != nil {
				query = fmt.Sprintf("after=%d", h.Next.After)
			}
		}
		if !slices.Equal(all, span(1, n)) {
			t.Fatalf("forward walk read %v, want 1..%d once each", all, n)
		}
	})

	t.Run("backward", func(t *testing.T) {
		want := []struct {
			from, to   uint64
			next, prev uint64
		}{{16, 25, 0, 16}, {6, 15, 15, 6}, {1, 5, 5, 0}}
		var all []uint64
		query := fmt.Sprintf("before=%d", n+1)
		for i, w := range want {
			h := page(t, query)
			if got := seqs(h); !slices.Equal(got, span(w.from, w.to)) {
				t.Fatalf("page %d (%s): seqs %v, want %d..%d", i, query, got, w.from, w.to)
			}
			checkCursors(t, h, w.next, w.prev)
			all = append(seqs(h), all...)
			if h.Prev != nil {
				query = fmt.Sprintf("before=%d", h.Prev.Before)
			}
		}
		if !slices.Equal(all, span(1, n)) {
			t.Fatalf("backward walk read %v, want 1..%d once each", all, n)
		}
	})

	t.Run("newest page with a bound past the head", func(t *testing.T) {
		h := page(t, "before=9223372036854775807")
		if got := seqs(h); !slices.Equal(got, span(16, 25)) {
			t.Fatalf("seqs %v, want 16..25", got)
		}
	})

	t.Run("past the head", func(t *testing.T) {
		h := page(t, "after=25")
		if len(h.Publications) != 0 {
			t.Fatalf("got %v, want no publication", seqs(h))
		}
		checkCursors(t, h, 0, 26)
	})

	t.Run("default limit", func(t *testing.T) {
		var h api.HistoryResponse
		c.get(t, "/api/history?channel=paging.1").decode(t, &h)
		if got := seqs(h); !slices.Equal(got, span(1, n)) || h.Next != nil || h.Prev != nil {
			t.Fatalf("seqs %v next %v prev %v, want all %d on one page (default limit %d)", got, h.Next, h.Prev, n, api.DefaultLimit)
		}
	})
}

// checkCursors checks a page's next.after and prev.before; 0 means the
// cursor must be absent.
func checkCursors(t *testing.T, h api.HistoryResponse, next, prev uint64) {
	t.Helper()
	switch {
	case next == 0 && h.Next != nil:
		t.Errorf("next %+v, want none", *h.Next)
	case next != 0 && (h.Next == nil || h.Next.After != next):
		t.Errorf("next %+v, want after %d", h.Next, next)
	}
	switch {
	case prev == 0 && h.Prev != nil:
		t.Errorf("prev %+v, want none", *h.Prev)
	case prev != 0 && (h.Prev == nil || h.Prev.Before != prev):
		t.Errorf("prev %+v, want before %d", h.Prev, prev)
	}
}

// TestHistory: the documented answers of GET /api/history other than
// paging.
func TestHistory(t *testing.T) {
	_, c := startNode(t, testserver.Options{})
	c.post(t, "/api/publish", map[string]any{"channel": "hist.1", "payload": nil}).expectOK(t)

	t.Run("empty channel", func(t *testing.T) {
		res := c.get(t, "/api/history?channel=hist.none")
		res.expectOK(t)
		m := res.fields(t)
		if m["head"] != 0.0 || m["oldest"] != 1.0 || m["next"] != nil || m["prev"] != nil {
			t.Fatalf("got %s, want head 0, oldest 1, no cursors", res.body)
		}
		if pubs, ok := m["publications"].([]any); !ok || len(pubs) != 0 {
			t.Fatalf("publications %v, want an empty list (not null)", m["publications"])
		}
	})

	t.Run("null payload and empty fields", func(t *testing.T) {
		res := c.get(t, "/api/history?channel=hist.1")
		var raw struct{ Publications []map[string]json.RawMessage }
		res.decode(t, &raw)
		if len(raw.Publications) != 1 {
			t.Fatalf("got %s, want one publication", res.body)
		}
		p := raw.Publications[0]
		if string(p["payload"]) != "null" {
			t.Errorf("payload %s, want null", p["payload"])
		}
		for _, absent := range []string{"event", "from"} {
			if _, ok := p[absent]; ok {
				t.Errorf("%s is present, want it left out when empty", absent)
			}
		}
	})

	t.Run("namespace without history", func(t *testing.T) {
		_, c := startNode(t, testserver.Options{Hub: hub.Config{Namespaces: hub.Namespaces{
			Named: map[string]hub.Namespace{"live": {NoHistory: true}},
		}}})
		for range 2 {
			c.post(t, "/api/publish", map[string]any{"channel": "live.1", "payload": 1}).expectOK(t)
		}
		for _, query := range []string{"", "&after=0", "&before=2"} {
			var h api.HistoryResponse
			c.get(t, "/api/history?channel=live.1"+query).decode(t, &h)
			if len(h.Publications) != 0 || h.Head != 2 || h.Oldest != 3 || h.Next != nil || h.Prev != nil {
				t.Fatalf("%s: %+v, want no publications, head 2, oldest 3, no cursors", query, h)
			}
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
		{"invalid channel", "channel=a..b", docRejects, 400, protocol.CodeBadRequest},
		{"channel over 255 bytes", "channel=" + strings.Repeat("c", 256), docRejects, 413, protocol.CodeTooLarge},
		{"limit 0", "channel=hist.1&limit=0", docRejects, 400, protocol.CodeBadRequest},
		{"limit over 1000", "channel=hist.1&limit=1001", docRejects, 400, protocol.CodeBadRequest},
		{"limit not a number", "channel=hist.1&limit=ten", docRejects, 400, protocol.CodeBadRequest},
		{"negative after", "channel=hist.1&after=-1", docRejects, 400, protocol.CodeBadRequest},
		{"before 0", "channel=hist.1&before=0", docRejects, 400, protocol.CodeBadRequest},
		{"after past int64", "channel=hist.1&after=18446744073709551615", docRejects, 400, protocol.CodeBadRequest},
		{"after and before", "channel=hist.1&after=1&before=5", docSilent, 400, protocol.CodeBadRequest},
		{"unknown parameter", "channel=hist.1&limt=5", docSilent, 400, protocol.CodeBadRequest},
		{"parameter twice", "channel=hist.1&channel=hist.2", docSilent, 400, protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, call{method: http.MethodGet, path: "/api/history?" + tt.query, doc: tt.doc}).expectError(t, tt.status, tt.code)
		})
	}
}
