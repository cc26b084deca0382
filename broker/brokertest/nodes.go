package brokertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

// The tests of this file run where the broker's harness can make more
// than one node, break a node's connection or restart the server, and
// where the broker keeps its own time or presence.

// peer starts another node over b's storage, with its own recorder.
func peer(t *testing.T, h Harness, b herald.Broker, opts Options) (herald.Broker, *Recorder) {
	t.Helper()
	p := h.Peer(t, b, opts)
	rec := NewRecorder()
	if err := p.Start(context.Background(), rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, rec
}

func needPeer(t *testing.T, h Harness) {
	if h.Peer == nil {
		t.Skip("the broker lives in one process: there are no other nodes")
	}
}

func subscribe(t *testing.T, b herald.Broker, ch string) {
	t.Helper()
	if err := b.Subscribe(context.Background(), ch); err != nil {
		t.Fatalf("Subscribe(%s): %v", ch, err)
	}
}

// publishRetrying publishes until the broker acks, through the errors of
// a server that is away for a while.
func publishRetrying(t *testing.T, b herald.Broker, ch, id string) herald.PublishResult {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := b.Publish(ctx, ch, &herald.Publication{ID: id, Payload: []byte(`"` + id + `"`)})
		cancel()
		if err == nil {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish(%s, %s) kept failing: %v", ch, id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testRetentionAgeRealTime checks age retention on brokers that take
// their time from their server rather than from Options.Clock.
func testRetentionAgeRealTime(t *testing.T, h Harness) {
	if h.Clock {
		t.Skip("RetentionByAge covers it with a manual clock")
	}
	b, _ := newBroker(t, h, Options{RetentionAge: time.Second})
	for i := 1; i <= 3; i++ {
		publish(t, b, "conf.agert", fmt.Sprint(i))
	}
	time.Sleep(1500 * time.Millisecond)
	publish(t, b, "conf.agert", "4")
	deadline := time.Now().Add(waitFor)
	for {
		if r, ok := b.(Retainer); ok {
			if err := r.RunRetention(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		got := history(t, b, "conf.agert", 0, 100)
		if got.Head != 4 {
			t.Fatalf("head %d, want 4", got.Head)
		}
		if got.Oldest == 4 {
			checkRun(t, got.Publications, 4)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("oldest %d with %d publications after the age passed, want 4", got.Oldest, len(got.Publications))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if r, ok := b.(Retainer); ok {
		if err := r.RunRetention(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got := history(t, b, "conf.agert", 0, 100)
	if len(got.Publications) != 0 || got.Head != 4 || got.Oldest != 5 {
		t.Fatalf("all expired: %d publications, head %d, oldest %d; want 0, 4, 5", len(got.Publications), got.Head, got.Oldest)
	}
	if res := publish(t, b, "conf.agert", "5"); res.Seq != 5 {
		t.Fatalf("after everything expired the next seq is %d, want 5", res.Seq)
	}
}

func testDedupeWindowRealTime(t *testing.T, h Harness) {
	if h.Clock {
		t.Skip("DedupeWindowExpires covers it with a manual clock")
	}
	b, _ := newBroker(t, h, Options{DedupeWindow: time.Second})
	first := publish(t, b, "conf.dedupert", "x")
	if res := publish(t, b, "conf.dedupert", "x"); !res.Duplicate || res.Seq != first.Seq {
		t.Fatalf("a retry within the window got %+v, want the first ack", res)
	}
	time.Sleep(2 * time.Second)
	if res := publish(t, b, "conf.dedupert", "x"); res.Duplicate || res.Seq != 2 {
		t.Fatalf("a publish after the window got %+v, want a new seq 2", res)
	}
}

func presenceOf(t *testing.T, b herald.Broker) herald.PresenceBroker {
	t.Helper()
	p, ok := b.(herald.PresenceBroker)
	if !ok {
		t.Skip("the broker keeps no presence")
	}
	return p
}

// entries returns the channel's presence as "conn/user/info", sorted.
func entries(t *testing.T, p herald.PresenceBroker, ch string) []string {
	t.Helper()
	es, err := p.Presence(context.Background(), ch)
	if err != nil {
		t.Fatalf("Presence(%s): %v", ch, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ConnectionID + "/" + e.UserID + "/" + string(e.Info)
	}
	slices.Sort(out)
	return out
}

func waitEntries(t *testing.T, p herald.PresenceBroker, ch string, want []string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := entries(t, p, ch)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence of %s is %q, want %q", ch, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testPresence(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	p := presenceOf(t, b)
	ctx := context.Background()
	if got := entries(t, p, "conf.pres"); len(got) != 0 {
		t.Fatalf("a new channel's presence is %q, want none", got)
	}
	info := json.RawMessage(`{"name":"Alice"}`)
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"add", func() error {
			return p.AddPresence(ctx, "conf.pres", herald.PresenceEntry{ConnectionID: "c1", UserID: "alice", Info: info})
		}, []string{`c1/alice/{"name":"Alice"}`}},
		{"a second connection of the same user", func() error {
			return p.AddPresence(ctx, "conf.pres", herald.PresenceEntry{ConnectionID: "c2", UserID: "alice"})
		}, []string{`c1/alice/{"name":"Alice"}`, "c2/alice/"}},
		{"another user", func() error {
			return p.AddPresence(ctx, "conf.pres", herald.PresenceEntry{ConnectionID: "c3", UserID: "bob"})
		}, []string{`c1/alice/{"name":"Alice"}`, "c2/alice/", "c3/bob/"}},
		{"add again replaces", func() error {
			return p.AddPresence(ctx, "conf.pres", herald.PresenceEntry{ConnectionID: "c1", UserID: "alice", Info: json.RawMessage(`{"name":"Al"}`)})
		}, []string{`c1/alice/{"name":"Al"}`, "c2/alice/", "c3/bob/"}},
		{"remove", func() error { return p.RemovePresence(ctx, "conf.pres", "c2") },
			[]string{`c1/alice/{"name":"Al"}`, "c3/bob/"}},
		{"remove an absent entry", func() error { return p.RemovePresence(ctx, "conf.pres", "nobody") },
			[]string{`c1/alice/{"name":"Al"}`, "c3/bob/"}},
		{"remove the rest", func() error {
			return errors.Join(p.RemovePresence(ctx, "conf.pres", "c1"), p.RemovePresence(ctx, "conf.pres", "c3"))
		}, nil},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := entries(t, p, "conf.pres"); !slices.Equal(got, st.want) && !(len(got) == 0 && len(st.want) == 0) {
			t.Fatalf("%s: presence is %q, want %q", st.name, got, st.want)
		}
	}
	if got := entries(t, p, "conf.other"); len(got) != 0 {
		t.Fatalf("presence leaked into another channel: %q", got)
	}
}

// testNodesGapless: three nodes publish to one channel at once; the
// sequence is gapless and every node delivers the same order.
func testNodesGapless(t *testing.T, h Harness) {
	needPeer(t, h)
	b, recB := newBroker(t, h, Options{})
	p1, rec1 := peer(t, h, b, Options{})
	p2, rec2 := peer(t, h, b, Options{})
	nodes := []herald.Broker{b, p1, p2}
	recs := []*Recorder{recB, rec1, rec2}
	for _, n := range nodes {
		subscribe(t, n, "conf.nodes")
	}
	const workers, each = 3, 100 // per node
	var (
		mu   sync.Mutex
		seqs = map[uint64]string{}
		wg   sync.WaitGroup
	)
	for ni, n := range nodes {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					id := fmt.Sprintf("n%d-w%d-%d", ni, w, i)
					res, err := n.Publish(context.Background(), "conf.nodes", &herald.Publication{ID: id, Payload: []byte("1")})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := seqs[res.Seq]; dup {
						t.Errorf("seq %d given to %s and %s", res.Seq, prev, id)
					}
					seqs[res.Seq] = id
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := len(nodes) * workers * each
	if len(seqs) != total {
		t.Fatalf("%d distinct seqs for %d publishes", len(seqs), total)
	}
	for i, rec := range recs {
		got := rec.WaitSeq("conf.nodes", uint64(total), waitFor)
		ids := checkRun(t, got, 1)
		if len(ids) != total {
			t.Fatalf("node %d delivered %d, want %d", i, len(ids), total)
		}
		for j, id := range ids {
			if seqs[uint64(j+1)] != id {
				t.Fatalf("node %d delivered %s at seq %d; the ack gave it to %s", i, id, j+1, seqs[uint64(j+1)])
			}
		}
	}
}

func testNodesDedupe(t *testing.T, h Harness) {
	needPeer(t, h)
	b, _ := newBroker(t, h, Options{})
	p, _ := peer(t, h, b, Options{})
	first := publish(t, b, "conf.nodededupe", "once")
	if res := publish(t, p, "conf.nodededupe", "once"); !res.Duplicate || res.Seq != first.Seq || res.Time != first.Time {
		t.Fatalf("a retry on another node got %+v, want the first ack %+v", res, first)
	}
	if res := publish(t, p, "conf.nodededupe", "twice"); res.Seq != first.Seq+1 {
		t.Fatalf("the next publish on another node got seq %d, want %d", res.Seq, first.Seq+1)
	}
}

func testNodesHistory(t *testing.T, h Harness) {
	needPeer(t, h)
	b, _ := newBroker(t, h, Options{})
	p, _ := peer(t, h, b, Options{})
	for i := 1; i <= 10; i++ {
		n := b
		if i%2 == 0 {
			n = p
		}
		publish(t, n, "conf.nodehist", fmt.Sprint(i))
	}
	for _, n := range []herald.Broker{b, p} {
		got := history(t, n, "conf.nodehist", 3, 100)
		if got.Head != 10 || got.Oldest != 1 {
			t.Fatalf("head %d oldest %d, want 10 and 1", got.Head, got.Oldest)
		}
		for i, id := range checkRun(t, got.Publications, 4) {
			if id != fmt.Sprint(i+4) {
				t.Fatalf("seq %d holds %s", i+4, id)
			}
		}
	}
}

func testNodesPresence(t *testing.T, h Harness) {
	needPeer(t, h)
	b, _ := newBroker(t, h, Options{})
	pb := presenceOf(t, b)
	p, _ := peer(t, h, b, Options{})
	pp := presenceOf(t, p)
	ctx := context.Background()
	if err := pb.AddPresence(ctx, "conf.nodepres", herald.PresenceEntry{ConnectionID: "a1", UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := pp.AddPresence(ctx, "conf.nodepres", herald.PresenceEntry{ConnectionID: "b1", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"a1/alice/", "b1/bob/"}
	waitEntries(t, pb, "conf.nodepres", want)
	waitEntries(t, pp, "conf.nodepres", want)
	if err := pp.RemovePresence(ctx, "conf.nodepres", "b1"); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, pb, "conf.nodepres", []string{"a1/alice/"})
}

// testNodeLeaseLapses: a node that stops without removing its entries
// has them dropped once its lease lapses; the others' stay.
func testNodeLeaseLapses(t *testing.T, h Harness) {
	needPeer(t, h)
	opts := Options{PresenceTTL: time.Second}
	b, _ := newBroker(t, h, opts)
	pb := presenceOf(t, b)
	gone := h.Peer(t, b, opts)
	if err := gone.Start(context.Background(), NewRecorder()); err != nil {
		t.Fatal(err)
	}
	pg := presenceOf(t, gone)
	ctx := context.Background()
	if err := pb.AddPresence(ctx, "conf.lease", herald.PresenceEntry{ConnectionID: "stays", UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := pg.AddPresence(ctx, "conf.lease", herald.PresenceEntry{ConnectionID: "goes", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, pb, "conf.lease", []string{"goes/bob/", "stays/alice/"})
	// Close stands in for a crash: it stops renewing the lease, and
	// leaves the entries where they are.
	if err := gone.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Well past the TTL the live node's entry must still be there: its
	// lease is renewed.
	time.Sleep(2500 * time.Millisecond)
	waitEntries(t, pb, "conf.lease", []string{"stays/alice/"})
}

// testCatchUpAfterCut: a node whose connection to the server breaks
// catches up by itself once it is back, so that its handler gets every
// publication once, in order, with no gap, whichever node stored it.
func testCatchUpAfterCut(t *testing.T, h Harness) {
	if h.Cut == nil {
		t.Skip("the harness cannot break the broker's connection")
	}
	b, rec := newBroker(t, h, Options{})
	pub := b
	if h.Peer != nil {
		pub, _ = peer(t, h, b, Options{})
	}
	subscribe(t, b, "conf.cut")
	for i := 1; i <= 20; i++ {
		publishRetrying(t, pub, "conf.cut", fmt.Sprint(i))
	}
	if got := rec.WaitSeq("conf.cut", 20, waitFor); len(got) != 20 {
		t.Fatalf("before the cut %d delivered, want 20", len(got))
	}
	h.Cut(t, b)
	for i := 21; i <= 100; i++ {
		publishRetrying(t, pub, "conf.cut", fmt.Sprint(i))
	}
	got := rec.WaitSeq("conf.cut", 100, 3*waitFor)
	ids := checkRun(t, got, 1)
	if len(ids) != 100 {
		t.Fatalf("after the cut %d delivered, want 100", len(ids))
	}
}

// testServerRestart: the server restarts under a node; acked
// publications survive, the node reconnects by itself, and its handler
// misses nothing.
func testServerRestart(t *testing.T, h Harness) {
	if h.RestartServer == nil {
		t.Skip("the harness cannot restart the broker's server")
	}
	b, rec := newBroker(t, h, Options{})
	subscribe(t, b, "conf.srvrestart")
	for i := 1; i <= 30; i++ {
		publish(t, b, "conf.srvrestart", fmt.Sprint(i))
	}
	h.RestartServer(t, b)
	for i := 31; i <= 60; i++ {
		publishRetrying(t, b, "conf.srvrestart", fmt.Sprint(i))
	}
	got := history(t, b, "conf.srvrestart", 0, 100)
	if got.Head != 60 || len(got.Publications) != 60 {
		t.Fatalf("after the restart: head %d, %d publications; want 60", got.Head, len(got.Publications))
	}
	for i, id := range checkRun(t, got.Publications, 1) {
		if id != fmt.Sprint(i+1) {
			t.Fatalf("seq %d holds %s", i+1, id)
		}
	}
	if res := publishRetrying(t, b, "conf.srvrestart", "30"); !res.Duplicate || res.Seq != 30 {
		t.Fatalf("a retry of a publication acked before the restart got %+v, want seq 30, duplicate", res)
	}
	delivered := rec.WaitSeq("conf.srvrestart", 60, 3*waitFor)
	if ids := checkRun(t, delivered, 1); len(ids) != 60 {
		t.Fatalf("%d delivered across the restart, want 60", len(ids))
	}
}

// testDropPresence: a node that drops its presence (a clean drain) has
// its entries gone everywhere at once, long before its lease would lapse.
func testDropPresence(t *testing.T, h Harness) {
	needPeer(t, h)
	opts := Options{PresenceTTL: time.Minute}
	b, _ := newBroker(t, h, opts)
	pb := presenceOf(t, b)
	p, _ := peer(t, h, b, opts)
	pp := presenceOf(t, p)
	ctx := context.Background()
	if err := pb.AddPresence(ctx, "conf.drop", herald.PresenceEntry{ConnectionID: "stays", UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"goes1", "goes2"} {
		if err := pp.AddPresence(ctx, "conf.drop", herald.PresenceEntry{ConnectionID: c, UserID: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	waitEntries(t, pb, "conf.drop", []string{"goes1/bob/", "goes2/bob/", "stays/alice/"})
	if err := pp.DropPresence(ctx); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, pb, "conf.drop", []string{"stays/alice/"})
	if err := pp.AddPresence(ctx, "conf.drop", herald.PresenceEntry{ConnectionID: "late", UserID: "bob"}); !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("AddPresence after DropPresence: %v, want ErrClosed", err)
	}
}
