package heraldclient_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestOps: Edit, Delete, React and Unreact are acked like publishes and
// arrive live as op entries; a replay and History return the messages as
// they stand; the server's refusals come back as *Error.
func TestOps(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	alice, _ := connected(t, srv.URL, staticToken("alice", "chat.>"), nil)
	bob, _ := connected(t, srv.URL, staticToken("bob", "chat.>"), nil)
	sub := subscribe(t, alice, "chat.ops", heraldclient.SubscribeOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	m1 := publish(t, alice, "chat.ops", text(1))
	m2 := publish(t, alice, "chat.ops", text(2))
	acks := []heraldclient.Ack{m1, m2}
	do := func(what string, ack heraldclient.Ack, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		acks = append(acks, ack)
	}
	ack, err := alice.Edit(ctx, "chat.ops", m1.Seq, map[string]string{"text": "edited"})
	do("edit", ack, err)
	ack, err = bob.React(ctx, "chat.ops", m1.Seq, "👍")
	do("react", ack, err)
	ack, err = alice.React(ctx, "chat.ops", m1.Seq, "👍")
	do("react", ack, err)
	ack, err = bob.React(ctx, "chat.ops", m1.Seq, "🎉")
	do("react", ack, err)
	ack, err = bob.Unreact(ctx, "chat.ops", m1.Seq, "🎉")
	do("unreact", ack, err)
	ack, err = alice.Delete(ctx, "chat.ops", m2.Seq)
	do("delete", ack, err)

	t.Run("live op entries", func(t *testing.T) {
		want := []struct {
			op      string
			ref     uint64
			from    string
			payload string
		}{
			{"", 0, "alice", `{"text":"m1"}`}, {"", 0, "alice", `{"text":"m2"}`},
			{heraldclient.OpEdit, 1, "alice", `{"text":"edited"}`},
			{heraldclient.OpReact, 1, "bob", `"👍"`}, {heraldclient.OpReact, 1, "alice", `"👍"`},
			{heraldclient.OpReact, 1, "bob", `"🎉"`}, {heraldclient.OpUnreact, 1, "bob", `"🎉"`},
			{heraldclient.OpDelete, 2, "alice", `null`},
		}
		for i, m := range expectSeqs(t, sub, 1, 8) {
			w := want[i]
			if m.Op != w.op || m.Ref != w.ref || m.From != w.from || string(m.Payload) != w.payload || m.ID != acks[i].ID ||
				!m.EditedAt.IsZero() || m.Deleted || m.Reactions != nil {
				t.Fatalf("seq %d: %+v (payload %s), want %+v", m.Seq, m, m.Payload, w)
			}
		}
	})

	check := func(t *testing.T, where string, first, second heraldclient.Message) {
		t.Helper()
		reactions := map[string]heraldclient.Reaction{"👍": {Count: 2, Users: []string{"bob", "alice"}}}
		if string(first.Payload) != `{"text":"edited"}` || !first.EditedAt.Equal(acks[2].Timestamp) || first.Deleted ||
			!reflect.DeepEqual(first.Reactions, reactions) || first.Op != "" || !first.Timestamp.Equal(m1.Timestamp) {
			t.Fatalf("%s: seq 1 is %+v (payload %s)", where, first, first.Payload)
		}
		if !second.Deleted || second.Payload != nil || second.ID != m2.ID || second.From != "alice" || !second.EditedAt.IsZero() {
			t.Fatalf("%s: seq 2 is %+v (payload %s), want a tombstone", where, second, second.Payload)
		}
	}

	t.Run("history as it stands", func(t *testing.T) {
		p := readHistory(t, bob, "chat.ops", heraldclient.HistoryOptions{Forward: true, Limit: 2})
		check(t, "history", p.Messages[0], p.Messages[1])
	})

	t.Run("replay as it stands", func(t *testing.T) {
		carol, _ := connected(t, srv.URL, staticToken("carol", "chat.>"), nil)
		from := uint64(0)
		late := subscribe(t, carol, "chat.ops", heraldclient.SubscribeOptions{LastSeq: &from})
		ms := expectSeqs(t, late, 1, 8)
		check(t, "replay", ms[0], ms[1])
		if ms[2].Op != heraldclient.OpEdit || ms[7].Op != heraldclient.OpDelete {
			t.Fatalf("replayed op entries %+v, %+v", ms[2], ms[7])
		}
	})

	t.Run("refusals", func(t *testing.T) {
		tests := []struct {
			name string
			call func() (heraldclient.Ack, error)
			code protocol.Code
		}{
			{"edit another's", func() (heraldclient.Ack, error) { return bob.Edit(ctx, "chat.ops", m1.Seq, 1) }, protocol.CodeForbidden},
			{"delete another's", func() (heraldclient.Ack, error) { return bob.Delete(ctx, "chat.ops", m1.Seq) }, protocol.CodeForbidden},
			{"edit a seq never published", func() (heraldclient.Ack, error) { return alice.Edit(ctx, "chat.ops", 999, 1) }, protocol.CodeNotFound},
			{"react to an op entry", func() (heraldclient.Ack, error) { return alice.React(ctx, "chat.ops", 3, "x") }, protocol.CodeBadRequest},
			{"seq 0", func() (heraldclient.Ack, error) { return alice.Delete(ctx, "chat.ops", 0) }, protocol.CodeBadRequest},
			{"empty key", func() (heraldclient.Ack, error) { return alice.React(ctx, "chat.ops", 1, "") }, protocol.CodeBadRequest},
			{"key too long", func() (heraldclient.Ack, error) {
				return alice.Unreact(ctx, "chat.ops", 1, strings.Repeat("k", protocol.MaxReactionLen+1))
			}, protocol.CodeTooLarge},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if ack, err := tt.call(); !isCode(err, tt.code) {
					t.Fatalf("got %+v, %v; want code %s", ack, err, tt.code)
				}
			})
		}
		expectQuiet(t, sub, 200*time.Millisecond)
	})
}
