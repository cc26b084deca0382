package hub

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// countingBroker is a real broker whose History reads are counted, to
// check what the fold costs.
type countingBroker struct {
	herald.Broker
	reads, read atomic.Int64 // calls, publications returned
}

func (b *countingBroker) History(ctx context.Context, channel string, req herald.HistoryRequest) (herald.History, error) {
	h, err := b.Broker.History(ctx, channel, req)
	b.reads.Add(1)
	b.read.Add(int64(len(h.Publications)))
	return h, err
}

// foldHub returns a hub over a counting embedded broker, with replay
// pages of page publications.
func foldHub(t *testing.T, page int) (*Hub, *countingBroker) {
	t.Helper()
	h := newBenchHub(t, &fakeClock{now: time.UnixMilli(1_000_000)})
	cb := &countingBroker{Broker: h.broker}
	h.broker = cb
	h.cfg.ReplayPage = page
	return h, cb
}

// pub is a publication to store: a message, or an op entry (op, ref).
type pub struct {
	from, op string
	ref      uint64
	payload  string
}

func store(t *testing.T, h *Hub, channel string, pubs ...pub) {
	t.Helper()
	for i, p := range pubs {
		_, err := h.broker.Publish(context.Background(), channel, &herald.Publication{
			ID: fmt.Sprint(channel, i), From: p.from, Op: p.op, Ref: p.ref, Payload: []byte(p.payload),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestFold checks what op entries make of the messages they change, as
// the protocol sends them.
func TestFold(t *testing.T) {
	tests := []struct {
		name string
		pubs []pub
		// want is seq 1 as sent in a history page, without channel,
		// seq, id, timestamp and from.
		want protocol.Message
	}{
		{"untouched", []pub{{from: "a", payload: `1`}, {from: "a", payload: `2`}}, protocol.Message{Payload: []byte(`1`)}},
		{"latest edit wins", []pub{
			{from: "a", payload: `1`}, {from: "a", op: "edit", ref: 1, payload: `2`}, {from: "a", op: "edit", ref: 1, payload: `3`},
		}, protocol.Message{Payload: []byte(`3`), EditedAt: 1_000_000}},
		{"delete is final", []pub{
			{from: "a", payload: `1`}, {from: "b", op: "react", ref: 1, payload: `"x"`}, {from: "a", op: "edit", ref: 1, payload: `2`},
			{from: "a", op: "delete", ref: 1}, {from: "a", op: "edit", ref: 1, payload: `3`}, {from: "b", op: "react", ref: 1, payload: `"y"`},
		}, protocol.Message{Deleted: true}},
		{"reactions: once per user and key, in order", []pub{
			{from: "a", payload: `1`},
			{from: "b", op: "react", ref: 1, payload: `"👍"`},
			{from: "c", op: "react", ref: 1, payload: `"❤️"`},
			{from: "c", op: "react", ref: 1, payload: `"👍"`},
			{from: "b", op: "react", ref: 1, payload: `"👍"`},
			{from: "b", op: "unreact", ref: 1, payload: `"🙈"`},
			{from: "c", op: "unreact", ref: 1, payload: `"❤️"`},
			{from: "d", op: "react", ref: 1, payload: `"🎉"`},
			{from: "c", op: "react", ref: 1, payload: `"❤️"`},
		}, protocol.Message{Payload: []byte(`1`), Reactions: []protocol.Reaction{
			{Key: "👍", Count: 2, Users: []string{"b", "c"}},
			{Key: "🎉", Count: 1, Users: []string{"d"}},
			{Key: "❤️", Count: 1, Users: []string{"c"}},
		}}},
		{"the last unreact removes the key", []pub{
			{from: "a", payload: `1`}, {from: "b", op: "react", ref: 1, payload: `"x"`}, {from: "b", op: "unreact", ref: 1, payload: `"x"`},
		}, protocol.Message{Payload: []byte(`1`)}},
		{"ops of other messages", []pub{
			{from: "a", payload: `1`}, {from: "a", payload: `2`}, {from: "a", op: "edit", ref: 2, payload: `3`},
		}, protocol.Message{Payload: []byte(`1`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := foldHub(t, 2)
			store(t, h, "f.1", tt.pubs...)
			page, err := h.History(context.Background(), "f.1", herald.HistoryRequest{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := page.Messages[0].Protocol("f.1")
			got.Channel, got.Seq, got.ID, got.Timestamp, got.From = "", 0, "", 0, ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("seq 1 is %+v (payload %s), want %+v (payload %s)", got, got.Payload, tt.want, tt.want.Payload)
			}
		})
	}
}

// TestFoldCapsUsers: a summary names the first ReactionUsers users and
// counts them all.
func TestFoldCapsUsers(t *testing.T) {
	h, _ := foldHub(t, 100)
	pubs := []pub{{from: "a", payload: `1`}}
	n := protocol.ReactionUsers + 5
	for i := range n {
		pubs = append(pubs, pub{from: fmt.Sprint("u", i), op: "react", ref: 1, payload: `"k"`})
	}
	pubs = append(pubs, pub{from: "u0", op: "unreact", ref: 1, payload: `"k"`})
	store(t, h, "f.caps", pubs...)
	page, err := h.History(context.Background(), "f.caps", herald.HistoryRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	rs := page.Messages[0].Protocol("f.caps").Reactions
	if len(rs) != 1 || rs[0].Count != n-1 || len(rs[0].Users) != protocol.ReactionUsers || rs[0].Users[0] != "u1" ||
		rs[0].Users[protocol.ReactionUsers-1] != fmt.Sprint("u", protocol.ReactionUsers) {
		t.Fatalf("reactions %+v", rs)
	}
}

// TestFoldCost checks what the fold reads: nothing for a range that ends
// at the head; the rest of the log once for a replay of many pages.
func TestFoldCost(t *testing.T) {
	const page = 5
	h, cb := foldHub(t, page)
	pubs := []pub{{from: "a", payload: `0`}}
	for i := 2; i <= 50; i++ {
		pubs = append(pubs, pub{from: "a", payload: fmt.Sprint(i)})
	}
	pubs = append(pubs, pub{from: "a", op: "edit", ref: 1, payload: `"one"`}, pub{from: "b", op: "react", ref: 12, payload: `"k"`})
	store(t, h, "f.cost", pubs...) // 52 publications
	ctx := context.Background()

	cb.reads.Store(0)
	newest, err := h.History(ctx, "f.cost", herald.HistoryRequest{Before: ^uint64(0), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if n := cb.reads.Load(); n != 1 {
		t.Fatalf("the newest page took %d reads, want 1 (its own)", n)
	}
	if len(newest.Messages) != 10 || newest.Messages[9].Seq != 52 {
		t.Fatalf("newest page %v", newest.Messages)
	}

	// A replay: consecutive ranges with one folder, as recover reads them.
	cb.reads.Store(0)
	cb.read.Store(0)
	f := h.newFolder("f.cost")
	var folded []Message
	for after := uint64(0); after < 52; {
		hist, err := h.broker.History(ctx, "f.cost", herald.HistoryRequest{After: after, Limit: page})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := f.fold(ctx, hist.Publications, hist.Head)
		if err != nil {
			t.Fatal(err)
		}
		folded = append(folded, msgs...)
		after = hist.Publications[len(hist.Publications)-1].Seq
	}
	if len(folded) != 52 || string(folded[0].Protocol("").Payload) != `"one"` || folded[11].Protocol("").Reactions[0].Count != 1 {
		t.Fatalf("replay folded to %+v, %+v", folded[0].Protocol(""), folded[11].Protocol(""))
	}
	// The pages themselves (52), and the log after the first page once
	// (47), in reads of a page.
	if n := cb.read.Load(); n != 52+47 {
		t.Fatalf("the replay read %d publications, want %d", n, 52+47)
	}
	if len(f.ops) != 0 {
		t.Fatalf("the folder still holds %d op entries after the last page", len(f.ops))
	}
}
