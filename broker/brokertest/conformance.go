package brokertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

// Options are the settings a test needs a broker made with. Zero fields
// mean the broker's defaults.
type Options struct {
	RetentionCount uint64
	RetentionAge   time.Duration
	DedupeWindow   time.Duration
	// Clock is set for tests that move time; the broker must take its
	// time from it.
	Clock herald.Clock
	// RetentionFor, when set, gives per-channel retention.
	RetentionFor func(channel string) herald.Retention
	// PresenceTTL is how long a node's presence entries outlive it: the
	// lease the broker renews while it runs.
	PresenceTTL time.Duration
}

// Harness makes brokers for the suite.
type Harness struct {
	// New returns a new broker for t, made with opts, over storage that
	// holds nothing yet (for a shared server: a prefix or namespace of
	// its own). The suite closes it.
	New func(t *testing.T, opts Options) herald.Broker
	// Peer returns another broker over the same storage as b, as a second
	// node would run: the same channels, logs and presence. Nil skips the
	// tests of several nodes, which suits brokers that live in one
	// process. The suite starts and closes it.
	Peer func(t *testing.T, b herald.Broker, opts Options) herald.Broker
	// Cut breaks b's connections to its server once, as a network blink
	// does; b must reconnect by itself. Nil skips the test.
	Cut func(t *testing.T, b herald.Broker)
	// RestartServer stops the server that b's storage lives in and starts
	// it again on the same data and address; the broker must reconnect
	// by itself. Nil skips the test.
	RestartServer func(t *testing.T, b herald.Broker)
	// Reopen closes b and returns a broker over the same stored data, as
	// after a restart. Nil skips the restart tests, which suits brokers
	// whose data lives only in their process.
	Reopen func(t *testing.T, b herald.Broker, opts Options) herald.Broker
	// Clock says whether the broker takes its time from Options.Clock;
	// false skips the tests that move time.
	Clock bool
	// DeliversAll says that the broker hands its handler every
	// channel's publications and ephemeral messages, subscribed or not,
	// as herald.Broker's Subscribe allows (the embedded broker does);
	// false makes the suite check that unsubscribed channels get none.
	DeliversAll bool
}

// Retainer is implemented by brokers that apply retention themselves;
// RunRetention applies it now and returns when it is done.
type Retainer interface {
	RunRetention(ctx context.Context) error
}

const waitFor = 10 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"GaplessUnderConcurrentPublishers", testGapless},
		{"OrderPerPublisher", testOrderPerPublisher},
		{"HistoryRanges", testHistoryRanges},
		{"HistoryBackwards", testHistoryBefore},
		{"NoHistoryChannel", testNoHistory},
		{"DedupeByID", testDedupe},
		{"DedupeConcurrentRetries", testDedupeConcurrent},
		{"DedupeWindowExpires", testDedupeWindow},
		{"DeliveryAfterSubscribe", testDelivery},
		{"DeliveryOrderPerChannel", testDeliveryOrder},
		{"OpEntriesRoundTrip", testOpEntries},
		{"ReplaySeam", testReplaySeam},
		{"RetentionByCount", testRetentionCount},
		{"RetentionByAge", testRetentionAge},
		{"BatchKeepsOrder", testBatch},
		{"SurvivesRestart", testRestart},
		{"ClosedBrokerRefuses", testClosed},
		{"RetentionByAgeRealTime", testRetentionAgeRealTime},
		{"DedupeWindowRealTime", testDedupeWindowRealTime},
		{"Presence", testPresence},
		{"NodesGapless", testNodesGapless},
		{"NodesDedupe", testNodesDedupe},
		{"NodesHistory", testNodesHistory},
		{"NodesPresence", testNodesPresence},
		{"NodeLeaseLapses", testNodeLeaseLapses},
		{"DropPresence", testDropPresence},
		{"CatchUpAfterCut", testCatchUpAfterCut},
		{"ServerRestart", testServerRestart},
		{"MapPutVersions", testMapPutVersions},
		{"MapGet", testMapGet},
		{"MapPutConcurrent", testMapPutConcurrent},
		{"MapBadInput", testMapBadInput},
		{"MapSurvivesRestart", testMapSurvivesRestart},
		{"NodesMaps", testNodesMaps},
		{"MapServerRestart", testMapServerRestart},
		{"Ephemeral", testEphemeral},
		{"EphemeralConcurrent", testEphemeralConcurrent},
		{"EphemeralAfterClose", testEphemeralClosed},
		{"EphemeralAfterCut", testEphemeralAfterCut},
		{"NodesEphemeral", testNodesEphemeral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, h) })
	}
}

func newBroker(t *testing.T, h Harness, opts Options) (herald.Broker, *Recorder) {
	t.Helper()
	b := h.New(t, opts)
	rec := NewRecorder()
	if err := b.Start(context.Background(), rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b, rec
}

func publish(t *testing.T, b herald.Broker, ch, id string) herald.PublishResult {
	t.Helper()
	res, err := b.Publish(context.Background(), ch, &herald.Publication{
		ID: id, Event: "test", Payload: []byte(fmt.Sprintf(`{"id":%q}`, id)), From: "tester",
	})
	if err != nil {
		t.Fatalf("Publish(%s, %s): %v", ch, id, err)
	}
	return res
}

func history(t *testing.T, b herald.Broker, ch string, after uint64, limit int) herald.History {
	t.Helper()
	h, err := b.History(context.Background(), ch, herald.HistoryRequest{After: after, Limit: limit})
	if err != nil {
		t.Fatalf("History(%s, after %d): %v", ch, after, err)
	}
	return h
}

// checkRun checks that pubs have seqs from, from+1, … and returns the ids.
func checkRun(t *testing.T, pubs []*herald.Publication, from uint64) []string {
	t.Helper()
	ids := make([]string, len(pubs))
	for i, p := range pubs {
		if want := from + uint64(i); p.Seq != want {
			t.Fatalf("publication %d has seq %d, want %d", i, p.Seq, want)
		}
		if i > 0 && p.Time < pubs[i-1].Time {
			t.Fatalf("seq %d has time %d before seq %d's %d", p.Seq, p.Time, pubs[i-1].Seq, pubs[i-1].Time)
		}
		ids[i] = p.ID
	}
	return ids
}

func testGapless(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	const workers, each = 8, 150
	var (
		mu   sync.Mutex
		seqs = map[uint64]string{}
		wg   sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				res, err := b.Publish(context.Background(), "conf.gapless", &herald.Publication{ID: id, Payload: []byte("1")})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := seqs[res.Seq]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("seq %d given to %s and %s", res.Seq, prev, id)
					return
				}
				seqs[res.Seq] = id
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := workers * each
	for seq := uint64(1); seq <= uint64(total); seq++ {
		if _, ok := seqs[seq]; !ok {
			t.Fatalf("seq %d was never assigned (%d publishes)", seq, total)
		}
	}
	hist := history(t, b, "conf.gapless", 0, total+10)
	if hist.Head != uint64(total) || len(hist.Publications) != total {
		t.Fatalf("history: head %d, %d publications; want %d of each", hist.Head, len(hist.Publications), total)
	}
	for i, id := range checkRun(t, hist.Publications, 1) {
		if want := seqs[uint64(i+1)]; id != want {
			t.Fatalf("history seq %d has id %s, the ack said %s", i+1, id, want)
		}
	}
}

func testOrderPerPublisher(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	var last uint64
	for i := range 100 {
		res := publish(t, b, "conf.order", fmt.Sprint(i))
		if res.Seq != last+1 {
			t.Fatalf("publish %d got seq %d after %d", i, res.Seq, last)
		}
		last = res.Seq
	}
}

func testHistoryRanges(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	for i := 1; i <= 10; i++ {
		publish(t, b, "conf.hist", fmt.Sprint(i))
	}
	tests := []struct {
		name              string
		channel           string
		after             uint64
		limit             int
		wantFirst, wantN  int
		wantHead, wantOld uint64
	}{
		{"all", "conf.hist", 0, 100, 1, 10, 10, 1},
		{"middle page", "conf.hist", 3, 4, 4, 4, 10, 1},
		{"tail", "conf.hist", 8, 100, 9, 2, 10, 1},
		{"after head", "conf.hist", 10, 100, 0, 0, 10, 1},
		{"beyond head", "conf.hist", 50, 100, 0, 0, 10, 1},
		{"the largest seq", "conf.hist", ^uint64(0), 100, 0, 0, 10, 1},
		{"position only", "conf.hist", 0, 0, 0, 0, 10, 1},
		{"unknown channel", "conf.none", 0, 100, 0, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := history(t, b, tt.channel, tt.after, tt.limit)
			if got.Head != tt.wantHead || got.Oldest != tt.wantOld {
				t.Errorf("head %d oldest %d, want %d and %d", got.Head, got.Oldest, tt.wantHead, tt.wantOld)
			}
			if len(got.Publications) != tt.wantN {
				t.Fatalf("%d publications, want %d", len(got.Publications), tt.wantN)
			}
			if tt.wantN > 0 {
				ids := checkRun(t, got.Publications, uint64(tt.wantFirst))
				if ids[0] != fmt.Sprint(tt.wantFirst) {
					t.Errorf("first id %s, want %d", ids[0], tt.wantFirst)
				}
				p := got.Publications[0]
				if p.Event != "test" || p.From != "tester" || string(p.Payload) != fmt.Sprintf(`{"id":"%d"}`, tt.wantFirst) {
					t.Errorf("publication fields not kept: %+v", p)
				}
			}
		})
	}
}

func testDedupe(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{})
	if err := b.Subscribe(context.Background(), "conf.dedupe"); err != nil {
		t.Fatal(err)
	}
	first := publish(t, b, "conf.dedupe", "a")
	again := publish(t, b, "conf.dedupe", "a")
	if first.Duplicate || !again.Duplicate || again.Seq != first.Seq || again.Time != first.Time {
		t.Fatalf("retry answered %+v after %+v; want the first ack, marked duplicate", again, first)
	}
	second := publish(t, b, "conf.dedupe", "b")
	if second.Duplicate || second.Seq != first.Seq+1 {
		t.Fatalf("new id got %+v, want seq %d", second, first.Seq+1)
	}
	other := publish(t, b, "conf.dedupe.other", "a")
	if other.Duplicate {
		t.Fatal("the same id on another channel was taken for a duplicate")
	}
	got := rec.Wait("conf.dedupe", 2, waitFor)
	if ids := checkRun(t, got, 1); len(ids) != 2 || ids[0] != "a" || ids[1] != "b" {
		t.Fatalf("delivered %v, want [a b] once each", ids)
	}
	if n := len(history(t, b, "conf.dedupe", 0, 10).Publications); n != 2 {
		t.Fatalf("history holds %d publications, want 2", n)
	}
}

func testDedupeConcurrent(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	const n = 10
	results := make(chan herald.PublishResult, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := b.Publish(context.Background(), "conf.race", &herald.Publication{ID: "same", Payload: []byte("1")})
			if err != nil {
				t.Error(err)
				return
			}
			results <- res
		}()
	}
	wg.Wait()
	close(results)
	originals := 0
	for res := range results {
		if res.Seq != 1 {
			t.Errorf("a retry got seq %d, want 1", res.Seq)
		}
		if !res.Duplicate {
			originals++
		}
	}
	if originals != 1 {
		t.Fatalf("%d publishes were stored, want 1", originals)
	}
}

func testDedupeWindow(t *testing.T, h Harness) {
	if !h.Clock {
		t.Skip("the broker keeps its own time; the window is tested with its server's clock")
	}
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, _ := newBroker(t, h, Options{DedupeWindow: time.Minute, Clock: clock})
	first := publish(t, b, "conf.window", "x")
	clock.Advance(59 * time.Second)
	if res := publish(t, b, "conf.window", "x"); !res.Duplicate {
		t.Fatal("a retry inside the window was stored again")
	}
	clock.Advance(3 * time.Minute)
	if r, ok := b.(Retainer); ok {
		if err := r.RunRetention(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if res := publish(t, b, "conf.window", "x"); res.Duplicate || res.Seq != first.Seq+1 {
		t.Fatalf("after the window the id got %+v, want a new seq %d", res, first.Seq+1)
	}
}

func testDelivery(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{})
	ctx := context.Background()
	publish(t, b, "conf.deliver", "before")
	if err := b.Subscribe(ctx, "conf.deliver"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		publish(t, b, "conf.deliver", fmt.Sprint(i))
	}
	publish(t, b, "conf.unwatched", "x")
	// The publication stored just before Subscribe may be delivered too;
	// every one stored after it must be.
	got := rec.WaitSeq("conf.deliver", 21, waitFor)
	if len(got) < 20 {
		t.Fatalf("delivered %d, want the 20 published after Subscribe", len(got))
	}
	if got[0].Seq > 2 {
		t.Fatalf("deliveries start at seq %d, want 1 or 2", got[0].Seq)
	}
	checkRun(t, got, got[0].Seq)
	delivered := len(got)
	// Subscribe and Unsubscribe are counted: after two Subscribes and one
	// Unsubscribe the channel is still delivered.
	if err := b.Subscribe(ctx, "conf.deliver"); err != nil {
		t.Fatal(err)
	}
	if err := b.Unsubscribe(ctx, "conf.deliver"); err != nil {
		t.Fatal(err)
	}
	publish(t, b, "conf.deliver", "after")
	got = rec.WaitSeq("conf.deliver", 22, waitFor)
	if len(got) != delivered+1 {
		t.Fatalf("after a balanced Subscribe/Unsubscribe pair, %d delivered, want %d", len(got), delivered+1)
	}
	checkRun(t, got, got[0].Seq)
	if err := b.Unsubscribe(ctx, "conf.deliver"); err != nil {
		t.Fatal(err)
	}
}

func testDeliveryOrder(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{})
	const chans, each = 4, 100
	for c := range chans {
		if err := b.Subscribe(context.Background(), fmt.Sprintf("conf.many.%d", c)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for c := range chans {
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each / 2 {
					_, err := b.Publish(context.Background(), fmt.Sprintf("conf.many.%d", c),
						&herald.Publication{ID: fmt.Sprintf("%d-%d", w, i), Payload: []byte("1")})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for c := range chans {
		got := rec.Wait(fmt.Sprintf("conf.many.%d", c), each, waitFor)
		if len(got) != each {
			t.Fatalf("channel %d: %d delivered, want %d", c, len(got), each)
		}
		checkRun(t, got, 1)
	}
}

// testReplaySeam checks the promise the hub builds recovery on: whatever
// was stored before Subscribe returned is in History read afterwards, and
// whatever is stored after it is delivered, in order.
func testReplaySeam(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{})
	const total = 600
	acked := make(chan uint64, total)
	go func() {
		defer close(acked)
		for i := range total {
			res, err := b.Publish(context.Background(), "conf.seam", &herald.Publication{ID: fmt.Sprint(i), Payload: []byte("1")})
			if err != nil {
				t.Error(err)
				return
			}
			acked <- res.Seq
		}
	}()
	for range total / 3 {
		<-acked
	}
	if err := b.Subscribe(context.Background(), "conf.seam"); err != nil {
		t.Fatal(err)
	}
	hist := history(t, b, "conf.seam", 0, total)
	for range acked {
	}
	live := rec.Wait("conf.seam", 1, waitFor)
	if len(hist.Publications) == 0 || len(live) == 0 {
		t.Fatalf("history %d, live %d: both should hold some", len(hist.Publications), len(live))
	}
	checkRun(t, hist.Publications, 1)
	first := live[0].Seq
	if first > hist.Head+1 {
		t.Fatalf("gap at the seam: history ends at %d, deliveries start at %d", hist.Head, first)
	}
	live = rec.Wait("conf.seam", int(total-first+1), waitFor)
	checkRun(t, live, first)
	if last := live[len(live)-1].Seq; last != total {
		t.Fatalf("deliveries end at %d, want %d", last, total)
	}
}

func runRetention(t *testing.T, b herald.Broker) {
	t.Helper()
	r, ok := b.(Retainer)
	if !ok {
		t.Skip("the broker's server applies retention itself")
	}
	if err := r.RunRetention(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func testRetentionCount(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{RetentionCount: 5})
	for i := 1; i <= 12; i++ {
		publish(t, b, "conf.count", fmt.Sprint(i))
	}
	runRetention(t, b)
	got := history(t, b, "conf.count", 0, 100)
	if got.Head != 12 || got.Oldest != 8 {
		t.Fatalf("head %d oldest %d, want 12 and 8", got.Head, got.Oldest)
	}
	checkRun(t, got.Publications, 8)
	if len(got.Publications) != 5 {
		t.Fatalf("%d retained, want 5", len(got.Publications))
	}
	if res := publish(t, b, "conf.count", "13"); res.Seq != 13 {
		t.Fatalf("after trimming, the next seq is %d, want 13", res.Seq)
	}
}

func testRetentionAge(t *testing.T, h Harness) {
	if !h.Clock {
		t.Skip("the broker keeps its own time")
	}
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b, _ := newBroker(t, h, Options{RetentionAge: time.Hour, Clock: clock})
	for i := 1; i <= 3; i++ {
		publish(t, b, "conf.age", fmt.Sprint(i))
	}
	clock.Advance(50 * time.Minute)
	publish(t, b, "conf.age", "4")
	publish(t, b, "conf.age.empty", "1")
	clock.Advance(20 * time.Minute)
	runRetention(t, b)
	got := history(t, b, "conf.age", 0, 100)
	if got.Oldest != 4 || got.Head != 4 || len(got.Publications) != 1 {
		t.Fatalf("oldest %d head %d, %d retained; want 4, 4, 1", got.Oldest, got.Head, len(got.Publications))
	}
	clock.Advance(time.Hour)
	runRetention(t, b)
	got = history(t, b, "conf.age", 0, 100)
	if got.Oldest != 5 || got.Head != 4 || len(got.Publications) != 0 {
		t.Fatalf("all expired: oldest %d head %d, %d retained; want 5, 4, 0", got.Oldest, got.Head, len(got.Publications))
	}
	if res := publish(t, b, "conf.age", "5"); res.Seq != 5 {
		t.Fatalf("after everything expired the next seq is %d, want 5", res.Seq)
	}
}

func testRestart(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("the broker's data lives in its server, which this suite does not restart")
	}
	b := h.New(t, Options{})
	for i := 1; i <= 30; i++ {
		publish(t, b, "conf.restart", fmt.Sprint(i))
	}
	b = h.Reopen(t, b, Options{})
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Start(context.Background(), NewRecorder()); err != nil {
		t.Fatal(err)
	}
	got := history(t, b, "conf.restart", 0, 100)
	if len(got.Publications) != 30 || got.Head != 30 {
		t.Fatalf("after restart: %d publications, head %d; want 30", len(got.Publications), got.Head)
	}
	checkRun(t, got.Publications, 1)
	if res := publish(t, b, "conf.restart", "30"); !res.Duplicate || res.Seq != 30 {
		t.Fatalf("a retry after restart got %+v, want the first ack (seq 30)", res)
	}
	if res := publish(t, b, "conf.restart", "31"); res.Seq != 31 {
		t.Fatalf("after restart the next seq is %d, want 31", res.Seq)
	}
}

func testClosed(t *testing.T, h Harness) {
	b := h.New(t, Options{})
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := b.Publish(context.Background(), "conf.closed", &herald.Publication{ID: "x", Payload: []byte("1")})
	if !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := b.History(context.Background(), "conf.closed", herald.HistoryRequest{Limit: 1}); !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("History after Close: %v, want ErrClosed", err)
	}
	if m, ok := b.(herald.MapBroker); ok {
		if _, _, err := m.MapPut(context.Background(), "conf.closed", "read", herald.MapEntry{Key: "k", Version: 1}); !errors.Is(err, herald.ErrClosed) {
			t.Fatalf("MapPut after Close: %v, want ErrClosed", err)
		}
		if _, err := m.MapGet(context.Background(), "conf.closed", "read"); !errors.Is(err, herald.ErrClosed) {
			t.Fatalf("MapGet after Close: %v, want ErrClosed", err)
		}
	}
}

func testBatch(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	bp, ok := b.(herald.BatchPublisher)
	if !ok {
		t.Skip("the broker has no batch publish")
	}
	var reqs []herald.PublishRequest
	for i := range 100 {
		ch := "conf.batch.a"
		if i%3 == 0 {
			ch = "conf.batch.b"
		}
		reqs = append(reqs, herald.PublishRequest{Channel: ch, Publication: &herald.Publication{ID: fmt.Sprint(i), Payload: []byte("1")}})
	}
	// A retry inside the batch is a duplicate of the earlier one.
	reqs = append(reqs, herald.PublishRequest{Channel: "conf.batch.a", Publication: &herald.Publication{ID: "1", Payload: []byte("1")}})
	resps := bp.PublishBatch(context.Background(), reqs)
	if len(resps) != len(reqs) {
		t.Fatalf("%d responses to %d requests", len(resps), len(reqs))
	}
	next := map[string]uint64{}
	for i, r := range resps[:100] {
		if r.Err != nil {
			t.Fatalf("request %d: %v", i, r.Err)
		}
		ch := reqs[i].Channel
		next[ch]++
		if r.Seq != next[ch] || r.Duplicate {
			t.Fatalf("request %d on %s got %+v, want seq %d", i, ch, r.PublishResult, next[ch])
		}
	}
	if last := resps[100]; !last.Duplicate || last.Seq != resps[1].Seq {
		t.Fatalf("the retry in the batch got %+v, want a duplicate of seq %d", last.PublishResult, resps[1].Seq)
	}
	for ch, n := range next {
		got := history(t, b, ch, 0, 200)
		if uint64(len(got.Publications)) != n {
			t.Fatalf("%s holds %d, want %d", ch, len(got.Publications), n)
		}
		checkRun(t, got.Publications, 1)
	}
}

func testHistoryBefore(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	for i := 1; i <= 10; i++ {
		publish(t, b, "conf.back", fmt.Sprint(i))
	}
	tests := []struct {
		name     string
		before   uint64
		limit    int
		first, n int
		wantHead uint64
	}{
		{"page before 8", 8, 3, 5, 3, 10},
		{"reaches the start", 3, 10, 1, 2, 10},
		{"before the first", 1, 10, 0, 0, 10},
		{"past the head", 99, 2, 9, 2, 10},
		{"just past the head", 11, 4, 7, 4, 10},
		{"the largest seq", ^uint64(0), 3, 8, 3, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.History(context.Background(), "conf.back", herald.HistoryRequest{Before: tt.before, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if got.Head != tt.wantHead || len(got.Publications) != tt.n {
				t.Fatalf("head %d, %d publications; want %d and %d", got.Head, len(got.Publications), tt.wantHead, tt.n)
			}
			if tt.n > 0 {
				checkRun(t, got.Publications, uint64(tt.first))
			}
		})
	}
}

// testOpEntries checks that an op entry's Op and Ref come back as
// published, through Publish and PublishBatch, from History and in
// delivery, next to the publications without them (and after a restart,
// where the broker has one).
func testOpEntries(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{})
	ctx := context.Background()
	const ch = "conf.ops"
	if err := b.Subscribe(ctx, ch); err != nil {
		t.Fatal(err)
	}
	want := []herald.Publication{
		{ID: "m", Event: "message.new", From: "alice", Payload: []byte(`{"text":"hi"}`)},
		{ID: "e", Event: "message.new", From: "alice", Op: "edit", Ref: 1, Payload: []byte(`{"text":"hi!"}`)},
		{ID: "r", From: "bob", Op: "react", Ref: 1, Payload: []byte(`"👍"`)},
		{ID: "d", From: "alice", Op: "delete", Ref: 1},
		{ID: "big", From: "carol", Op: "unreact", Ref: 1<<53 - 1, Payload: []byte(`"x"`)},
		{ID: "plain", Payload: []byte(`2`)},
	}
	for _, p := range want[:3] {
		if _, err := b.Publish(ctx, ch, &p); err != nil {
			t.Fatal(err)
		}
	}
	var reqs []herald.PublishRequest
	for _, p := range want[3:] {
		reqs = append(reqs, herald.PublishRequest{Channel: ch, Publication: &p})
	}
	if batcher, ok := b.(herald.BatchPublisher); ok {
		for _, r := range batcher.PublishBatch(ctx, reqs) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	} else {
		for _, r := range reqs {
			if _, err := b.Publish(ctx, ch, r.Publication); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(t *testing.T, where string, got []*herald.Publication) {
		t.Helper()
		checkRun(t, got, 1)
		if len(got) != len(want) {
			t.Fatalf("%s: %d publications, want %d", where, len(got), len(want))
		}
		for i, p := range got {
			w := want[i]
			if p.ID != w.ID || p.Event != w.Event || p.From != w.From || p.Op != w.Op || p.Ref != w.Ref ||
				string(p.Payload) != string(w.Payload) {
				t.Errorf("%s: seq %d is %+v (payload %q), want %+v (payload %q)", where, p.Seq, *p, p.Payload, w, w.Payload)
			}
		}
	}
	check(t, "delivered", rec.WaitSeq(ch, uint64(len(want)), waitFor))
	check(t, "history", history(t, b, ch, 0, 10).Publications)
	if h.Reopen != nil {
		b = h.Reopen(t, b, Options{})
		t.Cleanup(func() { _ = b.Close(context.Background()) })
		if err := b.Start(ctx, NewRecorder()); err != nil {
			t.Fatal(err)
		}
		check(t, "history after a restart", history(t, b, ch, 0, 10).Publications)
	}
}

func testNoHistory(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{RetentionFor: func(ch string) herald.Retention {
		if strings.HasPrefix(ch, "conf.live.") {
			return herald.Retention{}
		}
		return herald.Retention{Age: time.Hour, Count: 1000}
	}})
	if err := b.Subscribe(context.Background(), "conf.live.1"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if res := publish(t, b, "conf.live.1", fmt.Sprint(i)); res.Seq != uint64(i) {
			t.Fatalf("publish %d got seq %d", i, res.Seq)
		}
	}
	if res := publish(t, b, "conf.live.1", "2"); !res.Duplicate || res.Seq != 2 {
		t.Fatalf("a retry on a channel without history got %+v, want the first ack", res)
	}
	checkRun(t, rec.Wait("conf.live.1", 3, waitFor), 1)
	got := history(t, b, "conf.live.1", 0, 10)
	if len(got.Publications) != 0 || got.Head != 3 || got.Oldest != 4 {
		t.Fatalf("history of a channel without history: %d publications, head %d, oldest %d; want 0, 3, 4", len(got.Publications), got.Head, got.Oldest)
	}
	publish(t, b, "conf.kept", "1")
	if got := history(t, b, "conf.kept", 0, 10); len(got.Publications) != 1 {
		t.Fatalf("a channel with history kept %d", len(got.Publications))
	}
}
