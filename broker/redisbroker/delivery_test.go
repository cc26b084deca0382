package redisbroker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/brokertest"
)

// startedBroker returns a started broker on the package's server with a
// fresh prefix, and its recorder.
func startedBroker(t *testing.T, cfg Config) (*Broker, *brokertest.Recorder) {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = srv.URL()
	}
	if cfg.Prefix == "" {
		cfg.Prefix = randomPrefix()
	}
	cfg.Logger = testLogger
	b := newTestBroker(t, cfg)
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	rec := brokertest.NewRecorder()
	if err := b.Start(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return b, rec
}

func publishN(t *testing.T, b *Broker, ch string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		res, err := b.Publish(context.Background(), ch, &herald.Publication{ID: fmt.Sprint(i), Payload: []byte("1")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Seq != uint64(i) {
			t.Fatalf("publish %d got seq %d", i, res.Seq)
		}
	}
}

func seqsOf(pubs []*herald.Publication) []uint64 {
	out := make([]uint64, len(pubs))
	for i, p := range pubs {
		out[i] = p.Seq
		if p.ID != fmt.Sprint(p.Seq) {
			panic(fmt.Sprintf("seq %d carries id %s", p.Seq, p.ID))
		}
	}
	return out
}

// TestSubscriptionHandle drives one subscription's delivery state by
// hand over a stream that holds seqs 1 to 6, and checks what reaches the
// handler.
func TestSubscriptionHandle(t *testing.T) {
	live := func(seq uint64) item {
		return item{kind: itemPub, pub: &herald.Publication{Seq: seq, ID: fmt.Sprint(seq)}}
	}
	baseline := func(seq uint64) item { return item{kind: itemBaseline, seq: seq} }
	catchUp := item{kind: itemCatchUp}
	tests := []struct {
		name      string
		retention herald.Retention
		started   bool
		last      uint64
		items     []item
		want      []uint64
	}{
		{"in order", herald.Retention{Count: 100}, true, 2, []item{live(3), live(4)}, []uint64{3, 4}},
		{"a gap is filled from the stream", herald.Retention{Count: 100}, true, 2, []item{live(6)}, []uint64{3, 4, 5, 6}},
		{"what was delivered is dropped", herald.Retention{Count: 100}, true, 4, []item{live(3), live(4), live(5)}, []uint64{5}},
		{"the first delivery starts anywhere", herald.Retention{Count: 100}, false, 0, []item{live(4), live(5)}, []uint64{4, 5}},
		{"the baseline drops what was stored before Subscribe", herald.Retention{Count: 100}, false, 0, []item{baseline(3), live(3), live(5)}, []uint64{4, 5}},
		{"a baseline after a delivery is ignored", herald.Retention{Count: 100}, false, 0, []item{live(2), baseline(5), live(3)}, []uint64{2, 3}},
		{"a catch-up reads to the end", herald.Retention{Count: 100}, true, 2, []item{catchUp, live(5), live(6)}, []uint64{3, 4, 5, 6}},
		{"a catch-up before the baseline does nothing", herald.Retention{Count: 100}, false, 0, []item{catchUp}, nil},
		{"a gap past retention skips ahead", herald.Retention{Count: 2}, true, 1, []item{live(6)}, []uint64{5, 6}},
		{"a channel without history skips ahead", herald.Retention{}, true, 1, []item{live(6)}, []uint64{6}},
		{"a head that went back is followed", herald.Retention{Count: 100}, true, 9, []item{catchUp, live(7)}, []uint64{7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, rec := startedBroker(t, Config{RetentionFor: func(string) herald.Retention { return tt.retention }})
			publishN(t, b, "d.handle", 1, 6)
			s := b.newSubscription("d.handle")
			defer s.cancel()
			s.started, s.last = tt.started, tt.last
			for _, it := range tt.items {
				s.handle(it)
			}
			s.flush()
			if got := seqsOf(rec.Got("d.handle")); !slices.Equal(got, tt.want) {
				t.Fatalf("delivered %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSubscriptionHandleEphemeral checks that an ephemeral message in the
// queue reaches the handler after the publications queued before it, and
// leaves the delivered seqs alone.
func TestSubscriptionHandleEphemeral(t *testing.T) {
	b, rec := startedBroker(t, Config{})
	publishN(t, b, "d.eph", 1, 4)
	s := b.newSubscription("d.eph")
	defer s.cancel()
	s.started, s.last = true, 2
	live := func(seq uint64) item {
		return item{kind: itemPub, pub: &herald.Publication{Seq: seq, ID: fmt.Sprint(seq)}}
	}
	s.handle(live(3))
	s.handle(item{kind: itemEphemeral, data: []byte("typing")})
	if got := seqsOf(rec.Got("d.eph")); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("when the ephemeral message was handed over, %v were delivered, want [3]", got)
	}
	if got := rec.Ephemeral("d.eph"); len(got) != 1 || string(got[0]) != "typing" {
		t.Fatalf("ephemeral messages %q, want [typing]", got)
	}
	s.handle(live(4))
	s.flush()
	if got := seqsOf(rec.Got("d.eph")); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("delivered %v, want [3 4]", got)
	}
}

// silentPeer returns a node over b's data whose publications do not reach
// b's subscriptions (it publishes with PUBLISH while b listens with
// SSUBSCRIBE): what b would miss in a blink.
func silentPeer(t *testing.T, b *Broker) *Broker {
	t.Helper()
	if !b.spublish {
		// The package's own redis-server must be 7 or newer for these
		// tests to say anything; TestClassicPubSub covers older ones.
		t.Fatal("the test server has no sharded pub/sub (Redis 7 or newer is needed)")
	}
	p := newTestBroker(t, Config{URL: srv.URL(), Prefix: b.cfg.Prefix, Logger: testLogger})
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	p.spublish = false
	return p
}

func TestMissedPublicationsAreDelivered(t *testing.T) {
	tests := []struct {
		name string
		// after publishing 4 to 6 silently, nudge makes the node notice
		nudge func(t *testing.T, b *Broker)
		want  []uint64
	}{
		{"by the next live publication", func(t *testing.T, b *Broker) {
			publishN(t, b, "d.missed", 7, 7)
		}, []uint64{1, 2, 3, 4, 5, 6, 7}},
		{"by the catch-up after a resubscription", func(t *testing.T, b *Broker) {
			b.subMu.Lock()
			s := b.subs["d.missed"]
			b.subMu.Unlock()
			s.onSubscription(rueidis.PubSubSubscription{Kind: "ssubscribe", Channel: s.keys.pubsub, Count: 1})
		}, []uint64{1, 2, 3, 4, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, rec := startedBroker(t, Config{})
			quiet := silentPeer(t, b)
			if err := b.Subscribe(context.Background(), "d.missed"); err != nil {
				t.Fatal(err)
			}
			publishN(t, b, "d.missed", 1, 3)
			rec.WaitSeq("d.missed", 3, 10*time.Second)
			publishN(t, quiet, "d.missed", 4, 6)
			tt.nudge(t, b)
			last := tt.want[len(tt.want)-1]
			if got := seqsOf(rec.WaitSeq("d.missed", last, 10*time.Second)); !slices.Equal(got, tt.want) {
				t.Fatalf("delivered %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSubscribeCounts(t *testing.T) {
	b, rec := startedBroker(t, Config{})
	ctx := context.Background()
	steps := []struct {
		name      string
		sub       int // +1 Subscribe, -1 Unsubscribe
		delivered bool
	}{
		{"subscribed", +1, true},
		{"twice", +1, true},
		{"once undone", -1, true},
		{"all undone", -1, false},
		{"an extra Unsubscribe is harmless", -1, false},
		{"subscribed again", +1, true},
	}
	seq := 0
	for _, st := range steps {
		var err error
		if st.sub > 0 {
			err = b.Subscribe(ctx, "d.count")
		} else {
			err = b.Unsubscribe(ctx, "d.count")
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		seq++
		publishN(t, b, "d.count", seq, seq)
		got := rec.WaitSeq("d.count", uint64(seq), 300*time.Millisecond)
		if delivered := len(got) > 0 && got[len(got)-1].Seq == uint64(seq); delivered != st.delivered {
			t.Fatalf("%s: seq %d delivered: %v, want %v", st.name, seq, delivered, st.delivered)
		}
	}
}

// TestClassicPubSub runs delivery over PUBLISH and SUBSCRIBE, as on Redis
// before 7, across a cut of the subscriber's connections.
func TestClassicPubSub(t *testing.T) {
	a, rec := startedBroker(t, Config{})
	b, _ := startedBroker(t, Config{Prefix: a.cfg.Prefix})
	a.spublish, b.spublish = false, false
	if err := a.Subscribe(context.Background(), "d.classic"); err != nil {
		t.Fatal(err)
	}
	publishN(t, b, "d.classic", 1, 3)
	rec.WaitSeq("d.classic", 3, 10*time.Second)
	if n, err := srv.KillClients(ClientName(a.cfg.NodeID)); err != nil || n == 0 {
		t.Fatalf("cut: %d connections, %v", n, err)
	}
	publishN(t, b, "d.classic", 4, 6)
	want := []uint64{1, 2, 3, 4, 5, 6}
	if got := seqsOf(rec.WaitSeq("d.classic", 6, 10*time.Second)); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	// Ephemeral messages take PUBLISH too, and reach SUBSCRIBE.
	if err := b.Broadcast(context.Background(), "d.classic", []byte("typing")); err != nil {
		t.Fatal(err)
	}
	if got := rec.WaitEphemeral("d.classic", 1, 10*time.Second); len(got) != 1 || string(got[0]) != "typing" {
		t.Fatalf("ephemeral messages %q, want [typing]", got)
	}
}
