package protocoltest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// historyMax is the MaxHistoryLimit of the history suite's node.
const historyMax = 150

// runHistory checks the history frame: paging both ways, the default
// page, limits, who may read what, and namespaces without history.
func runHistory(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		MaxHistoryLimit: historyMax,
		// A page may take half of the queue: 32 KiB, which the test of
		// large payloads passes on purpose.
		MaxQueueBytes: 64 << 10,
		Namespaces: hub.Namespaces{Named: map[string]hub.Namespace{
			"live": {NoHistory: true},
		}},
	}})
	pub := login(t, tr, srv, "alice", ">")
	publishBatch(t, pub, "hist.1", 1, 250)

	t.Run("forward pages cover every seq once", func(t *testing.T) {
		c := login(t, tr, srv, "bob", "hist.>")
		seen := map[uint64]int{}
		var after uint64
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging forward does not end")
			}
			f := c.history(map[string]any{"channel": "hist.1", "after": after, "limit": 100})
			checkPosition(t, f, 250, 1)
			if len(f.Messages) == 0 {
				break
			}
			checkPage(t, f, after+1, min(after+100, 250))
			for _, m := range f.Messages {
				seen[m.Seq]++
			}
			after = f.Messages[len(f.Messages)-1].Seq
		}
		checkEachOnce(t, seen, 250)
	})

	t.Run("backward pages cover every seq once", func(t *testing.T) {
		c := login(t, tr, srv, "bob", "hist.>")
		seen := map[uint64]int{}
		req := map[string]any{"channel": "hist.1", "limit": 100} // the newest first
		want := []struct{ first, last uint64 }{{151, 250}, {51, 150}, {1, 50}}
		for i := 0; ; i++ {
			f := c.history(req)
			checkPosition(t, f, 250, 1)
			if i == len(want) {
				if len(f.Messages) != 0 {
					t.Fatalf("page before seq 1 has %d messages", len(f.Messages))
				}
				break
			}
			checkPage(t, f, want[i].first, want[i].last)
			for _, m := range f.Messages {
				seen[m.Seq]++
			}
			req = map[string]any{"channel": "hist.1", "before": f.Messages[0].Seq, "limit": 100}
		}
		checkEachOnce(t, seen, 250)
	})

	t.Run("messages are as published", func(t *testing.T) {
		c := login(t, tr, srv, "alice", "hist.>")
		ack := c.publish("hist.2", "exact", map[string]any{"text": "hi \"you\"", "n": []any{1, 2.5, nil}})
		f := c.history(map[string]any{"channel": "hist.2"})
		if len(f.Messages) != 1 {
			t.Fatalf("page of %d messages, want 1", len(f.Messages))
		}
		m := f.Messages[0]
		if m.Type != "" || m.Channel != "" || m.Seq != ack.Seq || m.ID != "exact" || m.Event != "message.new" ||
			m.From != "alice" || m.Timestamp != ack.Timestamp || string(m.Payload) != `{"n":[1,2.5,null],"text":"hi \"you\""}` {
			t.Fatalf("message %+v (payload %s), want the publish acked with %+v", m, m.Payload, ack)
		}
	})

	t.Run("neither after nor before gets the newest", func(t *testing.T) {
		c := login(t, tr, srv, "bob", "hist.>")
		// No limit: the default page.
		f := c.history(map[string]any{"channel": "hist.1"})
		checkPage(t, f, 250-protocol.DefaultHistoryLimit+1, 250)
		f = c.history(map[string]any{"channel": "hist.1", "limit": 3})
		checkPage(t, f, 248, 250)
	})

	t.Run("bounds past the log", func(t *testing.T) {
		c := login(t, tr, srv, "bob", "hist.>")
		checkPage(t, c.history(map[string]any{"channel": "hist.1", "after": 248}), 249, 250)
		checkPage(t, c.history(map[string]any{"channel": "hist.1", "after": 250}), 0, 0)
		checkPage(t, c.history(map[string]any{"channel": "hist.1", "after": uint64(1<<64 - 1)}), 0, 0)
		checkPage(t, c.history(map[string]any{"channel": "hist.1", "before": 1000, "limit": 2}), 249, 250)
		checkPage(t, c.history(map[string]any{"channel": "hist.1", "before": 3}), 1, 2)
	})

	t.Run("limit at the server's maximum", func(t *testing.T) {
		c := login(t, tr, srv, "bob", "hist.>")
		checkPage(t, c.history(map[string]any{"channel": "hist.1", "after": 0, "limit": historyMax}), 1, historyMax)
	})

	t.Run("an empty channel has a position", func(t *testing.T) {
		c := login(t, tr, srv, "bob", "hist.>")
		f := c.history(map[string]any{"channel": "hist.empty"})
		checkPosition(t, f, 0, 1)
		checkPage(t, f, 0, 0)
	})

	t.Run("a namespace without history", func(t *testing.T) {
		c := login(t, tr, srv, "carol", "live.>")
		publishN(t, c, "live.1", 1, 3)
		for _, req := range []map[string]any{
			{"channel": "live.1"},
			{"channel": "live.1", "after": 0},
			{"channel": "live.1", "before": 3},
		} {
			f := c.history(req)
			checkPosition(t, f, 3, 4)
			checkPage(t, f, 0, 0)
		}
	})

	t.Run("a page fits the queue", func(t *testing.T) {
		c := login(t, tr, srv, "alice", "big.>")
		payload := strings.Repeat("x", 8<<10)
		for i := 1; i <= 10; i++ {
			c.publish("big.1", fmt.Sprint("big-", i), payload)
		}
		// 32 KiB hold three 8 KiB messages; a page holds what fits and
		// the next page starts after it.
		fwd := c.history(map[string]any{"channel": "big.1", "after": 0, "limit": 10})
		checkPage(t, fwd, 1, 3)
		checkPage(t, c.history(map[string]any{"channel": "big.1", "after": 3, "limit": 10}), 4, 6)
		back := c.history(map[string]any{"channel": "big.1", "limit": 10})
		checkPage(t, back, 8, 10)
		checkPosition(t, back, 10, 1)
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name     string
			patterns []string
			frame    map[string]any
			code     protocol.Code
			ref      string
		}{
			{"not granted", []string{"chat.>"}, map[string]any{"channel": "hist.1"}, protocol.CodeForbidden, "h"},
			{"pattern edge", []string{"hist.*"}, map[string]any{"channel": "hist.1.2"}, protocol.CodeForbidden, "h"},
			{"another user's channel", []string{">"}, map[string]any{"channel": "user.bob"}, protocol.CodeForbidden, "h"},
			{"a reserved namespace", []string{">"}, map[string]any{"channel": "$herald.control"}, protocol.CodeForbidden, "h"},
			{"after and before", []string{">"}, map[string]any{"channel": "hist.1", "after": 1, "before": 5}, protocol.CodeBadRequest, "h"},
			{"before 0", []string{">"}, map[string]any{"channel": "hist.1", "before": 0}, protocol.CodeBadRequest, "h"},
			{"limit 0", []string{">"}, map[string]any{"channel": "hist.1", "limit": 0}, protocol.CodeBadRequest, "h"},
			{"negative limit", []string{">"}, map[string]any{"channel": "hist.1", "limit": -1}, protocol.CodeBadRequest, "h"},
			{"limit over the maximum", []string{">"}, map[string]any{"channel": "hist.1", "limit": historyMax + 1}, protocol.CodeTooLarge, "h"},
			{"no channel", []string{">"}, map[string]any{}, protocol.CodeBadRequest, "h"},
			{"a pattern", []string{">"}, map[string]any{"channel": "hist.*"}, protocol.CodeBadRequest, "h"},
			{"no id", []string{">"}, map[string]any{"channel": "hist.1", "id": ""}, protocol.CodeBadRequest, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := login(t, tr, srv, "alice", tt.patterns...)
				f := map[string]any{"type": protocol.TypeHistory, "id": "h"}
				for k, v := range tt.frame {
					f[k] = v
				}
				c.send(f)
				e := c.expectError(tt.code)
				if e.Ref != tt.ref {
					t.Errorf("error ref %q, want %q", e.Ref, tt.ref)
				}
				if ch, _ := tt.frame["channel"].(string); protocol.ValidChannel(ch) && e.Channel != ch {
					t.Errorf("error channel %q, want %q", e.Channel, ch)
				}
				c.usable()
			})
		}
	})

	t.Run("own user channel", func(t *testing.T) {
		c := login(t, tr, srv, "dave")
		checkPosition(t, c.history(map[string]any{"channel": "user.dave"}), 0, 1)
	})

	t.Run("before auth", func(t *testing.T) {
		c := dial(t, tr, srv)
		c.send(map[string]any{"type": protocol.TypeHistory, "id": "h", "channel": "hist.1"})
		if f := c.expectError(protocol.CodeUnauthorized); f.Ref != "h" {
			t.Errorf("ref %q", f.Ref)
		}
	})

	t.Run("in a batch, answered in order", func(t *testing.T) {
		c := login(t, tr, srv, "bob", "hist.>")
		c.SendRaw([]byte(`[{"type":"history","id":"a","channel":"hist.1","limit":1},` +
			`{"type":"history","id":"b","channel":"secret.1"},` +
			`{"type":"history","id":"c","channel":"hist.1","after":0,"limit":1}]`))
		if f := c.expect(protocol.TypeHistoryPage); f.ID != "a" || len(f.Messages) != 1 || f.Messages[0].Seq != 250 {
			t.Fatalf("first reply %+v", f)
		}
		if f := c.expectError(protocol.CodeForbidden); f.Ref != "b" {
			t.Fatalf("second reply %+v", f)
		}
		if f := c.expect(protocol.TypeHistoryPage); f.ID != "c" || len(f.Messages) != 1 || f.Messages[0].Seq != 1 {
			t.Fatalf("third reply %+v", f)
		}
	})
}

// history sends a history frame with id "h" and the fields of req, and
// returns the page; message frames that arrive first are skipped.
func (c *client) history(req map[string]any) protocol.Frame {
	c.t.Helper()
	f := map[string]any{"type": protocol.TypeHistory, "id": "h"}
	for k, v := range req {
		f[k] = v
	}
	c.send(f)
	for {
		r := c.read()
		switch r.Type {
		case protocol.TypeMessage:
			continue
		case protocol.TypeHistoryPage:
			if r.ID != "h" || r.Channel != req["channel"] {
				c.t.Fatalf("history_page %+v answers another request than %v", r, req)
			}
			return r
		default:
			c.t.Fatalf("got %+v (%s), want the history_page for %v", r, r.Message, req)
		}
	}
}

// publishBatch publishes messages from..to to channel in batch frames and
// waits for their acks, which must carry seqs from..to.
func publishBatch(t *testing.T, c *client, channel string, from, to int) {
	t.Helper()
	for lo := from; lo <= to; lo += protocol.MaxBatch {
		hi := min(lo+protocol.MaxBatch-1, to)
		var batch []map[string]any
		for i := lo; i <= hi; i++ {
			batch = append(batch, map[string]any{"type": "publish", "id": fmt.Sprintf("%s-%d", channel, i),
				"channel": channel, "event": "message.new", "payload": i})
		}
		b, err := json.Marshal(batch)
		if err != nil {
			t.Fatal(err)
		}
		c.SendRaw(b)
		for i := lo; i <= hi; i++ {
			if f := c.expect(protocol.TypeAck); f.Seq != uint64(i) {
				t.Fatalf("ack of publish %d has seq %d", i, f.Seq)
			}
		}
	}
}

// checkPosition checks a page's stream position.
func checkPosition(t *testing.T, f protocol.Frame, head, oldest uint64) {
	t.Helper()
	if f.Seq != head || f.OldestSeq != oldest {
		t.Fatalf("history_page seq %d oldestSeq %d, want %d and %d", f.Seq, f.OldestSeq, head, oldest)
	}
}

// checkPage checks that a page holds exactly the seqs first..last, in
// order (none when last is 0), each with the payload publishBatch gave it
// where it is a number.
func checkPage(t *testing.T, f protocol.Frame, first, last uint64) {
	t.Helper()
	var want int
	if last > 0 {
		want = int(last - first + 1)
	}
	if len(f.Messages) != want {
		var seqs []uint64
		for _, m := range f.Messages {
			seqs = append(seqs, m.Seq)
		}
		t.Fatalf("page of seqs %v, want %d..%d", seqs, first, last)
	}
	for i, m := range f.Messages {
		if m.Seq != first+uint64(i) {
			t.Fatalf("message %d of the page has seq %d, want %d", i, m.Seq, first+uint64(i))
		}
		if n, err := json.Number(m.Payload).Int64(); err == nil && n != int64(m.Seq) {
			t.Fatalf("seq %d has payload %s", m.Seq, m.Payload)
		}
		if m.Timestamp == 0 || m.ID == "" {
			t.Fatalf("message %+v lacks a timestamp or an id", m)
		}
	}
}

// checkEachOnce checks that seen holds every seq 1..n once.
func checkEachOnce(t *testing.T, seen map[uint64]int, n uint64) {
	t.Helper()
	for seq := uint64(1); seq <= n; seq++ {
		if seen[seq] != 1 {
			t.Fatalf("seq %d seen %d times", seq, seen[seq])
		}
	}
	if uint64(len(seen)) != n {
		t.Fatalf("%d seqs seen, want %d", len(seen), n)
	}
}
