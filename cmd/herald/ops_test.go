package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
)

// TestOpsOverBrokers: edits, deletes and reactions through every broker,
// with the publisher and the readers on different nodes where the broker
// is shared: op entries cross it live with their op and ref, and a
// history page and a replay on the other node return the messages as
// they stand.
func TestOpsOverBrokers(t *testing.T) {
	brokers := append([]clusterBroker{{name: "embedded"}}, clusterBrokers...)
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			var nodes []*node
			if b.start == nil {
				nodes = append(nodes, startNode(t, t.TempDir()))
			} else {
				url, _ := b.start(t)
				prefix := fmt.Sprintf("t%d", rand.Uint64())
				for range 2 {
					nodes = append(nodes, startNode(t, t.TempDir(), "--broker", url, "--broker-prefix", prefix))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			first, last := nodes[0], nodes[len(nodes)-1]
			alice := opsClient(ctx, t, first, "alice")
			bob := opsClient(ctx, t, last, "bob")
			live, err := bob.Subscribe(ctx, "chat.ops", heraldclient.SubscribeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m1, err := alice.Publish(ctx, "chat.ops", "message.new", "hi")
			if err != nil {
				t.Fatal(err)
			}
			m2, err := alice.Publish(ctx, "chat.ops", "message.new", "oops")
			if err != nil {
				t.Fatal(err)
			}
			edit, err := alice.Edit(ctx, "chat.ops", m1.Seq, "hi!")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.React(ctx, "chat.ops", m1.Seq, "👍"); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.Delete(ctx, "chat.ops", m2.Seq); err != nil {
				t.Fatal(err)
			}

			want := []struct {
				op  string
				ref uint64
			}{{"", 0}, {"", 0}, {heraldclient.OpEdit, 1}, {heraldclient.OpReact, 1}, {heraldclient.OpDelete, 2}}
			for i, w := range want {
				select {
				case m := <-live.Messages():
					if m.Seq != uint64(i+1) || m.Op != w.op || m.Ref != w.ref {
						t.Fatalf("live message %d: %+v, want op %q ref %d", i+1, m, w.op, w.ref)
					}
				case <-ctx.Done():
					t.Fatalf("live message %d did not arrive", i+1)
				}
			}

			check := func(t *testing.T, where string, ms []heraldclient.Message) {
				t.Helper()
				if len(ms) < 2 {
					t.Fatalf("%s: %d messages", where, len(ms))
				}
				if string(ms[0].Payload) != `"hi!"` || !ms[0].EditedAt.Equal(edit.Timestamp) ||
					!reflect.DeepEqual(ms[0].Reactions, map[string]heraldclient.Reaction{"👍": {Count: 1, Users: []string{"bob"}}}) {
					t.Fatalf("%s: seq 1 is %+v (payload %s)", where, ms[0], ms[0].Payload)
				}
				if !ms[1].Deleted || ms[1].Payload != nil || ms[1].ID != m2.ID {
					t.Fatalf("%s: seq 2 is %+v, want a tombstone", where, ms[1])
				}
			}
			carol := opsClient(ctx, t, last, "carol")
			page, err := carol.History(ctx, "chat.ops", heraldclient.HistoryOptions{Forward: true})
			if err != nil {
				t.Fatal(err)
			}
			if page.Head != 5 || len(page.Messages) != 5 {
				t.Fatalf("history: head %d, %d messages; want 5 and 5", page.Head, len(page.Messages))
			}
			check(t, "history", page.Messages)
			from := uint64(0)
			replay, err := carol.Subscribe(ctx, "chat.ops", heraldclient.SubscribeOptions{LastSeq: &from})
			if err != nil {
				t.Fatal(err)
			}
			var replayed []heraldclient.Message
			for len(replayed) < 5 {
				select {
				case m := <-replay.Messages():
					replayed = append(replayed, m)
				case <-ctx.Done():
					t.Fatalf("replayed %d of 5", len(replayed))
				}
			}
			check(t, "replay", replayed)
		})
	}
}

// opsClient connects user's SDK client to n.
func opsClient(ctx context.Context, t *testing.T, n *node, user string) *heraldclient.Client {
	t.Helper()
	tok := token(t, user)
	c, err := heraldclient.New(heraldclient.Config{
		URL:    n.url(),
		Token:  func(context.Context) (string, error) { return tok, nil },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}
