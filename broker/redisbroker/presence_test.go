package redisbroker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

func connIDs(t *testing.T, b *Broker, ch string) []string {
	t.Helper()
	es, err := b.Presence(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ConnectionID)
	}
	slices.Sort(ids)
	return ids
}

func TestPresenceLeases(t *testing.T) {
	tests := []struct {
		name string
		// lapse ends node a's lease the way the case says.
		lapse func(t *testing.T, a *Broker)
		// want is what node b sees right after the lapse, and wantLater
		// what it sees once node a had time to notice.
		want, wantLater []string
	}{
		{"a lease that lapsed is taken again and the entries rewritten", func(t *testing.T, a *Broker) {
			if _, err := srv.Do("DEL", a.leaseKey(a.cfg.NodeID)); err != nil {
				t.Fatal(err)
			}
		}, []string{"b1"}, []string{"a1", "b1"}},
		{"a node that closed drops out", func(t *testing.T, a *Broker) {
			if err := a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Do("DEL", a.leaseKey(a.cfg.NodeID)); err != nil {
				t.Fatal(err)
			}
		}, []string{"b1"}, []string{"b1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			a, _ := startedBroker(t, Config{PresenceTTL: 300 * time.Millisecond})
			b, _ := startedBroker(t, Config{Prefix: a.cfg.Prefix, PresenceTTL: 300 * time.Millisecond})
			if err := a.AddPresence(ctx, "p.lease", herald.PresenceEntry{ConnectionID: "a1", UserID: "alice"}); err != nil {
				t.Fatal(err)
			}
			if err := b.AddPresence(ctx, "p.lease", herald.PresenceEntry{ConnectionID: "b1", UserID: "bob"}); err != nil {
				t.Fatal(err)
			}
			if got := connIDs(t, b, "p.lease"); !slices.Equal(got, []string{"a1", "b1"}) {
				t.Fatalf("before the lapse: %v", got)
			}
			tt.lapse(t, a)
			if got := connIDs(t, b, "p.lease"); !slices.Equal(got, tt.want) {
				t.Fatalf("right after the lapse: %v, want %v", got, tt.want)
			}
			// The stale entry was deleted, not just hidden.
			if n, err := srv.Do("HLEN", b.keys("p.lease").presence); err != nil || n != "1" {
				t.Fatalf("the presence hash holds %s entries (%v), want 1", n, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				got := connIDs(t, b, "p.lease")
				if slices.Equal(got, tt.wantLater) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("later: %v, want %v", got, tt.wantLater)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestClosedBrokerRefusesEverything(t *testing.T) {
	b := newTestBroker(t, Config{URL: srv.URL(), Prefix: randomPrefix(), Logger: testLogger})
	ctx := context.Background()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Start", func() error { return b.Start(ctx, nil) }},
		{"Subscribe", func() error { return b.Subscribe(ctx, "c") }},
		{"Unsubscribe", func() error { return b.Unsubscribe(ctx, "c") }},
		{"Publish", func() error { _, err := b.Publish(ctx, "c", &herald.Publication{ID: "x"}); return err }},
		{"PublishBatch", func() error {
			return b.PublishBatch(ctx, []herald.PublishRequest{{Channel: "c", Publication: &herald.Publication{}}})[0].Err
		}},
		{"History", func() error { _, err := b.History(ctx, "c", herald.HistoryRequest{}); return err }},
		{"RunRetention", func() error { return b.RunRetention(ctx) }},
		{"AddPresence", func() error { return b.AddPresence(ctx, "c", herald.PresenceEntry{ConnectionID: "x"}) }},
		{"RemovePresence", func() error { return b.RemovePresence(ctx, "c", "x") }},
		{"Presence", func() error { _, err := b.Presence(ctx, "c"); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, herald.ErrClosed) {
				t.Fatalf("%s after Close: %v, want ErrClosed", c.name, err)
			}
		})
	}
}
