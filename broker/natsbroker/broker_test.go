package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/brokertest"
)

// openBroker makes a broker on url with a fresh prefix unless cfg has
// one, started with a recorder; the test's cleanup closes it.
func openBroker(t *testing.T, url string, cfg Config) (*Broker, *brokertest.Recorder) {
	t.Helper()
	cfg.URL = url
	if cfg.Prefix == "" {
		cfg.Prefix = "t" + randomHex(6)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	rec := brokertest.NewRecorder()
	if err := b.Start(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b, rec
}

func mustPublish(t *testing.T, b *Broker, ch, id string) herald.PublishResult {
	t.Helper()
	res, err := b.Publish(context.Background(), ch, &herald.Publication{ID: id, Event: "e", Payload: []byte(`"` + id + `"`)})
	if err != nil {
		t.Fatalf("Publish(%s, %s): %v", ch, id, err)
	}
	return res
}

// subjectCounts returns how many messages each subject of the channel's
// namespace stream holds.
func subjectCounts(t *testing.T, b *Broker, ns string) map[string]uint64 {
	t.Helper()
	st, err := b.js.Stream(context.Background(), b.names.stream(ns))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"prefix with a dot", Config{Prefix: "a.b"}},
		{"prefix too long", Config{Prefix: "p123456789012345678901234567890123"}},
		{"unknown storage", Config{Storage: "disk"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The URL points nowhere: the configuration is refused first.
			tt.cfg.URL = "nats://127.0.0.1:1"
			if b, err := New(context.Background(), tt.cfg); err == nil {
				b.Close(context.Background())
				t.Fatal("New accepted it")
			}
		})
	}
}

func TestRejectsBadChannel(t *testing.T) {
	srv := startEmbedded(t)
	b, _ := openBroker(t, srv.url(), Config{})
	ctx := context.Background()
	for _, ch := range []string{"", "a..b", "a.*", "a b", "a.>", ".a"} {
		t.Run(fmt.Sprintf("%q", ch), func(t *testing.T) {
			if _, err := b.Publish(ctx, ch, &herald.Publication{ID: "x"}); err == nil {
				t.Error("Publish accepted it")
			}
			if err := b.Subscribe(ctx, ch); err == nil {
				t.Error("Subscribe accepted it")
			}
			if _, err := b.History(ctx, ch, herald.HistoryRequest{Limit: 1}); err == nil {
				t.Error("History accepted it")
			}
			if err := b.AddPresence(ctx, ch, herald.PresenceEntry{ConnectionID: "c"}); err == nil {
				t.Error("AddPresence accepted it")
			}
			if err := b.Broadcast(ctx, ch, []byte("x")); err == nil {
				t.Error("Broadcast accepted it")
			}
		})
	}
}

// TestRetentionPurges checks what retention removes from the stream, not
// only what History shows: per channel everything but the newest message
// once it is out of both the channel's retention and the dedupe window.
func TestRetentionPurges(t *testing.T) {
	srv := startEmbedded(t)
	b, _ := openBroker(t, srv.url(), Config{
		DedupeWindow: time.Second,
		skewMargin:   time.Millisecond,
		RetentionFor: func(ch string) herald.Retention {
			switch ch {
			case "ret.count":
				return herald.Retention{Count: 3}
			case "ret.none":
				return herald.Retention{}
			case "ret.age":
				return herald.Retention{Age: 300 * time.Millisecond, Count: 1000}
			}
			return herald.Retention{Count: 1000}
		},
	})
	tests := []struct {
		channel    string
		wantStored uint64 // messages left in the stream
		wantOldest uint64
	}{
		{"ret.count", 3, 8},
		{"ret.none", 1, 11},
		{"ret.age", 1, 11},
		{"ret.all", 10, 1},
	}
	for _, tt := range tests {
		for i := 1; i <= 10; i++ {
			mustPublish(t, b, tt.channel, fmt.Sprint(i))
		}
	}
	// Inside the dedupe window nothing is removed, whatever History
	// shows.
	if err := b.RunRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	for ch, n := range subjectCounts(t, b, "ret") {
		if n != 10 {
			t.Errorf("%s holds %d inside the dedupe window, want 10", ch, n)
		}
	}
	time.Sleep(1200 * time.Millisecond)
	if err := b.RunRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
	counts := subjectCounts(t, b, "ret")
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			if n := counts[b.names.subject(tt.channel)]; n != tt.wantStored {
				t.Errorf("%d messages stored, want %d", n, tt.wantStored)
			}
			h, err := b.History(context.Background(), tt.channel, herald.HistoryRequest{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if h.Head != 10 || h.Oldest != tt.wantOldest || uint64(len(h.Publications)) != 11-tt.wantOldest {
				t.Fatalf("head %d oldest %d, %d publications; want 10, %d, %d",
					h.Head, h.Oldest, len(h.Publications), tt.wantOldest, 11-tt.wantOldest)
			}
			// The head survived: the next seq follows it.
			if res := mustPublish(t, b, tt.channel, "11"); res.Seq != 11 {
				t.Fatalf("next publish got seq %d, want 11", res.Seq)
			}
		})
	}
}

// TestHistoryInterleaved reads ranges of a channel whose messages are
// spread over its namespace's stream among other channels', so that
// finding a seq takes a search, across the direct-get and consumer
// reads.
func TestHistoryInterleaved(t *testing.T) {
	srv := startEmbedded(t)
	b, _ := openBroker(t, srv.url(), Config{})
	const n = 120
	for i := 1; i <= n; i++ {
		mustPublish(t, b, "mix.a", fmt.Sprint(i))
		// Bursts of other channels of varying length between.
		for j := range i % 7 {
			mustPublish(t, b, fmt.Sprintf("mix.b%d", j), fmt.Sprint(i))
		}
	}
	tests := []struct {
		name          string
		req           herald.HistoryRequest
		first, length int
	}{
		{"from the start", herald.HistoryRequest{Limit: 5}, 1, 5},
		{"after one", herald.HistoryRequest{After: 1, Limit: 3}, 2, 3},
		{"middle, direct reads", herald.HistoryRequest{After: 57, Limit: directReadMax}, 58, directReadMax},
		{"middle, consumer read", herald.HistoryRequest{After: 40, Limit: directReadMax + 1}, 41, directReadMax + 1},
		{"the tail", herald.HistoryRequest{After: n - 2, Limit: 50}, n - 1, 2},
		{"everything", herald.HistoryRequest{Limit: 1000}, 1, n},
		{"before, direct reads", herald.HistoryRequest{Before: 90, Limit: 10}, 80, 10},
		{"before, consumer read", herald.HistoryRequest{Before: 100, Limit: 40}, 60, 40},
		{"before reaching the start", herald.HistoryRequest{Before: 4, Limit: 40}, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := b.History(context.Background(), "mix.a", tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if h.Head != n || h.Oldest != 1 {
				t.Fatalf("head %d oldest %d, want %d and 1", h.Head, h.Oldest, n)
			}
			if len(h.Publications) != tt.length {
				t.Fatalf("%d publications, want %d", len(h.Publications), tt.length)
			}
			for i, p := range h.Publications {
				if want := uint64(tt.first + i); p.Seq != want || p.ID != fmt.Sprint(want) {
					t.Fatalf("publication %d is seq %d id %s, want %d", i, p.Seq, p.ID, want)
				}
			}
		})
	}
}

// gapHandler records each HandlePublications call.
type gapHandler struct {
	mu    sync.Mutex
	calls [][]uint64
	got   chan struct{}
}

func (h *gapHandler) HandlePublications(_ string, pubs []*herald.Publication) {
	seqs := make([]uint64, len(pubs))
	for i, p := range pubs {
		seqs[i] = p.Seq
	}
	h.mu.Lock()
	h.calls = append(h.calls, seqs)
	h.mu.Unlock()
	h.got <- struct{}{}
}

// TestDeliveryFillsGap makes the reader believe it missed publications
// and checks that it reads them from the stream before the next one.
func TestDeliveryFillsGap(t *testing.T) {
	srv := startEmbedded(t)
	b, _ := openBroker(t, srv.url(), Config{})
	h := &gapHandler{got: make(chan struct{}, 100)}
	if err := b.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(context.Background(), "gap.x"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		mustPublish(t, b, "gap.x", fmt.Sprint(i))
		mustPublish(t, b, "gap.y", fmt.Sprint(i)) // interleaved, not subscribed
	}
	// waitSeq waits until seq has been handed over; the reader may batch
	// publications into one call.
	waitSeq := func(seq uint64) [][]uint64 {
		t.Helper()
		for {
			h.mu.Lock()
			calls := append([][]uint64(nil), h.calls...)
			h.mu.Unlock()
			if n := len(calls); n > 0 && calls[n-1][len(calls[n-1])-1] >= seq {
				return calls
			}
			select {
			case <-h.got:
			case <-time.After(10 * time.Second):
				t.Fatalf("calls %v, want up to seq %d", calls, seq)
			}
		}
	}
	before := len(waitSeq(5))
	// Pretend 3, 4 and 5 never came.
	b.subMu.Lock()
	s := b.subs["gap.x"]
	b.subMu.Unlock()
	s.r.mu.Lock()
	if s.last != 5 {
		t.Fatalf("last delivered %d, want 5", s.last)
	}
	st := s.r.st
	m, ok, err := nextMsg(context.Background(), st, b.names.subject("gap.x"), 1)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	m, _, _ = nextMsg(context.Background(), st, b.names.subject("gap.x"), m.sseq+1) // seq 2
	s.last, s.lastSSeq = m.seq, m.sseq
	s.r.mu.Unlock()

	mustPublish(t, b, "gap.x", "6")
	calls := waitSeq(6)
	if got := fmt.Sprint(calls[before:]); got != "[[3 4 5 6]]" {
		t.Fatalf("after the gap the handler got %s, want [3 4 5 6]", got)
	}
}

// TestIdleReaderStops checks that a namespace with no subscribed channel
// stops its consumer, and that subscribing again starts a new one.
func TestIdleReaderStops(t *testing.T) {
	srv := startEmbedded(t)
	b, rec := openBroker(t, srv.url(), Config{})
	ctx := context.Background()
	if err := b.Subscribe(ctx, "idle.a"); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, b, "idle.a", "1")
	rec.WaitSeq("idle.a", 1, 10*time.Second)
	if err := b.Unsubscribe(ctx, "idle.a"); err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		st, err := b.js.Stream(ctx, b.names.stream("idle"))
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.Consumers
	}
	b.stopIdleReaders() // not idle long enough yet
	if n := consumers(); n != 1 {
		t.Fatalf("%d consumers right after the last Unsubscribe, want 1", n)
	}
	b.subMu.Lock()
	idle := b.readers["idle"]
	idle.idleSince = time.Now().Add(-2 * readerLinger)
	b.subMu.Unlock()
	b.stopIdleReaders()
	b.subMu.Lock()
	if n := len(b.readers); n != 0 {
		t.Errorf("%d readers after the idle one stopped", n)
	}
	b.subMu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for consumers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers after the reader stopped, want 0", consumers())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if idle.eph.IsValid() {
		t.Error("the stopped reader's ephemeral subscription is still in place")
	}
	if err := b.Subscribe(ctx, "idle.a"); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, b, "idle.a", "2")
	if got := rec.WaitSeq("idle.a", 2, 10*time.Second); len(got) != 2 || got[1].Seq != 2 {
		t.Fatalf("delivered %d publications after subscribing again", len(got))
	}
	if err := b.Broadcast(ctx, "idle.a", []byte("back")); err != nil {
		t.Fatal(err)
	}
	if got := rec.WaitEphemeral("idle.a", 1, 10*time.Second); len(got) != 1 || string(got[0]) != "back" {
		t.Fatalf("ephemeral messages after subscribing again: %q, want [back]", got)
	}
}

// TestEphemeralNotStored checks that ephemeral messages go around
// JetStream: no stream takes their subject in, and the namespace's stream
// holds the publications only.
func TestEphemeralNotStored(t *testing.T) {
	srv := startEmbedded(t)
	b, rec := openBroker(t, srv.url(), Config{})
	ctx := context.Background()
	if err := b.Subscribe(ctx, "eph.a"); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, b, "eph.a", "1")
	for i := range 5 {
		if err := b.Broadcast(ctx, "eph.a", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.WaitEphemeral("eph.a", 5, 10*time.Second); len(got) != 5 {
		t.Fatalf("%d ephemeral messages arrived, want 5", len(got))
	}
	if name, err := b.js.StreamNameBySubject(ctx, b.names.ephemeralSubject("eph.a")); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream %q takes the ephemeral subject in (%v)", name, err)
	}
	if got := subjectCounts(t, b, "eph"); len(got) != 1 || got[b.names.subject("eph.a")] != 1 {
		t.Fatalf("the namespace's stream holds %v, want the one publication", got)
	}
}

// TestPresenceLeavesNothing checks that removed and stale entries leave
// no message (no delete marker) in the presence bucket.
func TestPresenceLeavesNothing(t *testing.T) {
	srv := startEmbedded(t)
	ctx := context.Background()
	b, _ := openBroker(t, srv.url(), Config{PresenceTTL: 300 * time.Millisecond})
	gone, _ := openBroker(t, srv.url(), Config{Prefix: b.cfg.Prefix, PresenceTTL: 300 * time.Millisecond})
	if err := b.AddPresence(ctx, "room.1", herald.PresenceEntry{ConnectionID: "c.1", UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := gone.AddPresence(ctx, "room.1", herald.PresenceEntry{ConnectionID: "c.2", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPresence(ctx, "room.1", herald.PresenceEntry{ConnectionID: "c.3", UserID: "carol"}); err != nil {
		t.Fatal(err)
	}
	if err := b.RemovePresence(ctx, "room.1", "c.3"); err != nil {
		t.Fatal(err)
	}
	if err := gone.Close(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // the lease lapses
	es, err := b.Presence(ctx, "room.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ConnectionID != "c.1" || es[0].UserID != "alice" {
		t.Fatalf("presence %+v, want only c.1/alice", es)
	}
	info, err := b.presenceStore.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	if want := b.presenceSubject(presenceKey("room.1", "c.1")); len(info.State.Subjects) != 1 || info.State.Subjects[want] != 1 {
		t.Fatalf("the presence bucket holds %v, want only %s", info.State.Subjects, want)
	}
}

// TestContention publishes to one channel from several nodes at once, as
// hard as they can, and checks the sequence.
func TestContention(t *testing.T) {
	srv := startEmbedded(t)
	b, _ := openBroker(t, srv.url(), Config{})
	nodes := []*Broker{b}
	for range 2 {
		p, _ := openBroker(t, srv.url(), Config{Prefix: b.cfg.Prefix})
		nodes = append(nodes, p)
	}
	const workers, each = 4, 150
	var (
		mu   sync.Mutex
		seqs = map[uint64]bool{}
		wg   sync.WaitGroup
	)
	for ni, n := range nodes {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					res, err := n.Publish(context.Background(), "hot.x", &herald.Publication{ID: fmt.Sprintf("%d-%d-%d", ni, w, i)})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seqs[res.Seq] {
						t.Errorf("seq %d given twice", res.Seq)
					}
					seqs[res.Seq] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	total := len(nodes) * workers * each
	for s := uint64(1); s <= uint64(total); s++ {
		if !seqs[s] {
			t.Fatalf("seq %d missing", s)
		}
	}
	var conflicts uint64
	for _, n := range nodes {
		conflicts += n.conflicts.Load()
	}
	t.Logf("%d publishes from %d nodes, %d conflicts", total, len(nodes), conflicts)
}

func TestClosedBrokerRefusesAll(t *testing.T) {
	srv := startEmbedded(t)
	b, _ := openBroker(t, srv.url(), Config{})
	ctx := context.Background()
	if err := b.Subscribe(ctx, "c.x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		err  error
	}{
		{"Start", b.Start(ctx, brokertest.NewRecorder())},
		{"Subscribe", b.Subscribe(ctx, "c.x")},
		{"AddPresence", b.AddPresence(ctx, "c.x", herald.PresenceEntry{ConnectionID: "c"})},
		{"RemovePresence", b.RemovePresence(ctx, "c.x", "c")},
		{"Unsubscribe", b.Unsubscribe(ctx, "c.x")},
		{"RunRetention", b.RunRetention(ctx)},
		{"Broadcast", b.Broadcast(ctx, "c.x", []byte("x"))},
	}
	_, err := b.Presence(ctx, "c.x")
	checks = append(checks, struct {
		name string
		err  error
	}{"Presence", err})
	resps := b.PublishBatch(ctx, []herald.PublishRequest{{Channel: "c.x", Publication: &herald.Publication{}}})
	checks = append(checks, struct {
		name string
		err  error
	}{"PublishBatch", resps[0].Err})
	for _, c := range checks {
		if !errors.Is(c.err, herald.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.name, c.err)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

// TestCutsUnderLoad cuts a publishing, subscribed node's connection
// several times while its publishers retry, as clients do, with the same
// ids: every id is stored once, the seqs are gapless, and both nodes
// deliver each seq once, in order.
func TestCutsUnderLoad(t *testing.T) {
	srv := startEmbedded(t)
	p := startProxy(t, srv.addr())
	b, recB := openBroker(t, p.url(), Config{})
	c, recC := openBroker(t, srv.url(), Config{Prefix: b.cfg.Prefix})
	ctx := context.Background()
	for _, n := range []*Broker{b, c} {
		if err := n.Subscribe(ctx, "load.x"); err != nil {
			t.Fatal(err)
		}
	}
	const workers, each = 4, 150
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				deadline := time.Now().Add(30 * time.Second)
				for {
					pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
					_, err := b.Publish(pctx, "load.x", &herald.Publication{ID: id, Payload: []byte("1")})
					cancel()
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("publish %s: %v", id, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Cut, wait for the node to reconnect and publish a while, cut
	// again.
	cuts := 0
	for cutting := true; cutting; {
		select {
		case <-done:
			cutting = false
		case <-time.After(100 * time.Millisecond):
			if cuts < 3 && b.nc.Stats().Reconnects == uint64(cuts) {
				p.cut()
				cuts++
			}
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d cuts, %d reconnects, %d conflicts; published in %v", cuts, b.nc.Stats().Reconnects, b.conflicts.Load(), time.Since(start))
	if cuts < 2 {
		t.Fatalf("only %d cuts while publishing", cuts)
	}
	const total = workers * each
	h, err := c.History(ctx, "load.x", herald.HistoryRequest{Limit: 2 * total})
	if err != nil {
		t.Fatal(err)
	}
	if h.Head != total || len(h.Publications) != total {
		t.Fatalf("head %d, %d publications; want %d of each", h.Head, len(h.Publications), total)
	}
	ids := map[string]bool{}
	for i, pub := range h.Publications {
		if pub.Seq != uint64(i+1) || ids[pub.ID] {
			t.Fatalf("publication %d: seq %d id %s (repeated: %v)", i, pub.Seq, pub.ID, ids[pub.ID])
		}
		ids[pub.ID] = true
	}
	for name, rec := range map[string]*brokertest.Recorder{"cut node": recB, "other node": recC} {
		got := rec.WaitSeq("load.x", total, 30*time.Second)
		t.Logf("%s delivered all after %v", name, time.Since(start))
		if len(got) != total {
			t.Fatalf("%s delivered %d, want %d", name, len(got), total)
		}
		for i, pub := range got {
			if pub.Seq != uint64(i+1) || pub.ID != h.Publications[i].ID {
				t.Fatalf("%s delivered seq %d (%s) at %d", name, pub.Seq, pub.ID, i)
			}
		}
	}
}

// TestMemoryStorageRestart: a server restart loses memory streams. The
// seqs of a channel begin at 1 again, and a subscribed node notices that
// the stream was made anew and delivers its new publications rather than
// wait for the stream to grow past what it read before.
func TestMemoryStorageRestart(t *testing.T) {
	srv := startEmbedded(t)
	b, rec := openBroker(t, srv.url(), Config{Storage: "memory", PresenceTTL: time.Second})
	ctx := context.Background()
	if err := b.Subscribe(ctx, "mem.x"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		mustPublish(t, b, "mem.x", fmt.Sprint(i))
	}
	rec.WaitSeq("mem.x", 3, 10*time.Second)
	if stored, _, err := b.MapPut(ctx, "mem.x", "read", herald.MapEntry{Key: "u", Version: 5}); err != nil || !stored {
		t.Fatalf("MapPut: %v, stored %v", err, stored)
	}
	srv.Restart(t)
	var res herald.PublishResult
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		res, err = b.Publish(pctx, "mem.x", &herald.Publication{ID: "new", Payload: []byte("1")})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishing after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res.Seq != 1 {
		t.Fatalf("the first publish after the restart got seq %d, want 1 (the stream is new)", res.Seq)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		got := rec.Got("mem.x")
		if last := got[len(got)-1]; last.ID == "new" && last.Seq == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new publication was not delivered; delivered %d", len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The presence buckets come back with the next lease renewal.
	for deadline := time.Now().Add(20 * time.Second); ; {
		err := b.AddPresence(ctx, "mem.x", herald.PresenceEntry{ConnectionID: "c", UserID: "u"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("AddPresence after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if es, err := b.Presence(ctx, "mem.x"); err != nil || len(es) != 1 {
		t.Fatalf("presence after the restart: %v, %v", es, err)
	}
	// So does the map bucket, empty: the restart lost what it held.
	for deadline := time.Now().Add(20 * time.Second); ; {
		stored, _, err := b.MapPut(ctx, "mem.x", "read", herald.MapEntry{Key: "u", Version: 1})
		if err == nil {
			if !stored {
				t.Fatal("a map put after the restart was refused: the bucket kept its entries")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MapPut after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServerRestartUnderLoad restarts the server while three nodes
// publish to one channel with several publishes in flight each, as the
// hub does: every publish is acked on its first call, each id gets one
// seq, the seqs are gapless, and every node delivers all of them once,
// in order.
func TestServerRestartUnderLoad(t *testing.T) {
	srv := startEmbedded(t)
	var (
		nodes []*Broker
		recs  []*brokertest.Recorder
	)
	for i := range 3 {
		cfg := Config{}
		if i > 0 {
			cfg.Prefix = nodes[0].cfg.Prefix
		}
		n, rec := openBroker(t, srv.url(), cfg)
		if err := n.Subscribe(context.Background(), "busy.x"); err != nil {
			t.Fatal(err)
		}
		nodes, recs = append(nodes, n), append(recs, rec)
	}
	const total, restartAt, inFlight = 1500, 500, 8
	var (
		next, acked atomic.Int64
		once        sync.Once
		mu          sync.Mutex
		bySeq       = map[uint64]string{}
		wg          sync.WaitGroup
	)
	start := time.Now()
	for _, n := range nodes {
		for range inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > total {
						return
					}
					id := fmt.Sprintf("m-%d", i)
					// The hub gives a publish 10 seconds.
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					res, err := n.Publish(ctx, "busy.x", &herald.Publication{ID: id, Payload: []byte("1")})
					cancel()
					if err != nil {
						t.Errorf("publish %s: %v", id, err)
						return
					}
					mu.Lock()
					if prev, dup := bySeq[res.Seq]; dup {
						t.Errorf("seq %d acked for %s and %s", res.Seq, prev, id)
					}
					bySeq[res.Seq] = id
					mu.Unlock()
					if acked.Add(1) == restartAt {
						once.Do(func() { srv.Restart(t) })
					}
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d publishes across a restart in %v", total, time.Since(start))
	for s := uint64(1); s <= total; s++ {
		if _, ok := bySeq[s]; !ok {
			t.Fatalf("seq %d was never acked", s)
		}
	}
	for i, rec := range recs {
		got := rec.WaitSeq("busy.x", total, 30*time.Second)
		if len(got) != total {
			t.Fatalf("node %d delivered %d, want %d", i, len(got), total)
		}
		for j, p := range got {
			if p.Seq != uint64(j+1) || p.ID != bySeq[p.Seq] {
				t.Fatalf("node %d delivered seq %d (%s) at %d; the ack gave it to %s", i, p.Seq, p.ID, j, bySeq[p.Seq])
			}
		}
	}
}
