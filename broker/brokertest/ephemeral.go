package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

// The tests of this file check herald.Broadcaster, which every broker
// implements. Beyond herald.go's contract they expect what the suite
// relies on elsewhere too: what one goroutine broadcasts to a channel in
// turn arrives in that order (nothing in between reorders one node's
// messages to one channel), and Broadcast does not keep data, which the
// caller may reuse once it returns, while the handler may keep what it
// is given.

// broadcaster returns b as a herald.Broadcaster; every broker must be
// one.
func broadcaster(t *testing.T, b herald.Broker) herald.Broadcaster {
	t.Helper()
	bc, ok := b.(herald.Broadcaster)
	if !ok {
		t.Fatalf("%T does not implement herald.Broadcaster", b)
	}
	return bc
}

func broadcast(t *testing.T, bc herald.Broadcaster, ch string, data []byte) {
	t.Helper()
	if err := bc.Broadcast(context.Background(), ch, data); err != nil {
		t.Fatalf("Broadcast(%s, %q): %v", ch, data, err)
	}
}

// ephemeralCases are the messages testEphemeral sends: among them what a
// broker's own framing might take for something else.
var ephemeralCases = []struct {
	name string
	data []byte
}{
	{"json", []byte(`{"typing":true,"user":"alice"}`)},
	{"empty", []byte{}},
	{"binary", []byte("\x00\x01\xff\xfe\x00")},
	{"like a publication notice", []byte("12:1711234567890:\x01\x01x\x00\x001")},
	{"a marker byte first", []byte("!~\x00eph")},
	{"line breaks and spaces", []byte("a b\r\nc\td")},
	{"64 KiB", bytes.Repeat([]byte("0123456789abcdef"), 4096)},
}

// waitEphemeral waits for want on ch and checks that exactly want
// arrived, in order.
func waitEphemeral(t *testing.T, rec *Recorder, ch string, want [][]byte) {
	t.Helper()
	got := rec.WaitEphemeral(ch, len(want), waitFor)
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("%s received %s, want %s", ch, quoteAll(got), quoteAll(want))
	}
}

// quoteAll shows messages for a failure, the long ones cut short.
func quoteAll(ms [][]byte) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		if len(m) > 40 {
			out[i] = fmt.Sprintf("%q…(%d bytes)", m[:40], len(m))
		} else {
			out[i] = fmt.Sprintf("%q", m)
		}
	}
	return fmt.Sprint(out)
}

// testEphemeral: what is broadcast to a subscribed channel reaches the
// handler with its exact bytes, in order; it takes no seq and is not
// stored; an unsubscribed channel's messages do not reach the handler.
func testEphemeral(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{})
	bc := broadcaster(t, b)
	const ch, other = "conf.eph", "conf.ephother"
	subscribe(t, b, ch)
	var want [][]byte
	var buf []byte
	for _, c := range ephemeralCases {
		// One buffer for every message: the broker must not keep it.
		buf = append(buf[:0], c.data...)
		broadcast(t, bc, ch, buf)
		for i := range buf {
			buf[i] = '#'
		}
		want = append(want, c.data)
	}
	// Nobody subscribed the other channel; the last message to ch goes
	// after it, so that a broker that filters on the receiving side has
	// seen it by the time the last one arrives.
	broadcast(t, bc, other, []byte("not subscribed"))
	broadcast(t, bc, ch, []byte("last"))
	want = append(want, []byte("last"))
	waitEphemeral(t, rec, ch, want)
	if got := rec.Ephemeral(other); !h.DeliversAll && len(got) != 0 {
		t.Errorf("a channel nobody subscribed received %s", quoteAll(got))
	}
	if got := rec.Got(ch); len(got) != 0 {
		t.Fatalf("ephemeral messages were delivered as %d publications", len(got))
	}
	hist := history(t, b, ch, 0, 100)
	if hist.Head != 0 || len(hist.Publications) != 0 {
		t.Fatalf("after broadcasts the channel has head %d and %d publications, want none", hist.Head, len(hist.Publications))
	}
	if res := publish(t, b, ch, "after"); res.Seq != 1 || res.Duplicate {
		t.Fatalf("the first publish after broadcasts got %+v, want seq 1", res)
	}
	if got := rec.WaitSeq(ch, 1, waitFor); len(got) != 1 || got[0].ID != "after" {
		t.Fatalf("delivered %d publications after the broadcasts, want the one published", len(got))
	}
	if n := len(rec.Ephemeral(ch)); n != len(want) {
		t.Fatalf("the publication came with %d more ephemeral messages", n-len(want))
	}
	if n := rec.EphemeralOverlaps(); n != 0 {
		t.Fatalf("HandleEphemeral was called %d times while a call for the same channel was in progress", n)
	}
}

// testEphemeralConcurrent: broadcasts from many goroutines at once all
// arrive, and the handler is called for a channel by one goroutine at a
// time.
func testEphemeralConcurrent(t *testing.T, h Harness) {
	b, rec := newBroker(t, h, Options{})
	bc := broadcaster(t, b)
	chans := []string{"conf.ephmany.1", "conf.ephmany.2"}
	for _, ch := range chans {
		subscribe(t, b, ch)
	}
	const workers, each = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		for _, ch := range chans {
			wg.Go(func() {
				for i := range each {
					if err := bc.Broadcast(context.Background(), ch, fmt.Appendf(nil, "%d-%d", w, i)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, ch := range chans {
		got := rec.WaitEphemeral(ch, workers*each, waitFor)
		seen := make(map[string]bool, len(got))
		for _, m := range got {
			if seen[string(m)] {
				t.Fatalf("%s received %q twice", ch, m)
			}
			seen[string(m)] = true
		}
		for w := range workers {
			for i := range each {
				if m := fmt.Sprintf("%d-%d", w, i); !seen[m] {
					t.Fatalf("%s did not receive %q (%d of %d arrived)", ch, m, len(got), workers*each)
				}
			}
		}
	}
	if n := rec.EphemeralOverlaps(); n != 0 {
		t.Fatalf("HandleEphemeral was called %d times while a call for the same channel was in progress", n)
	}
}

func testEphemeralClosed(t *testing.T, h Harness) {
	b := h.New(t, Options{})
	bc := broadcaster(t, b)
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := bc.Broadcast(context.Background(), "conf.ephclosed", []byte("x")); !errors.Is(err, herald.ErrClosed) {
		t.Fatalf("Broadcast after Close: %v, want ErrClosed", err)
	}
}

// testNodesEphemeral: a broadcast reaches every node subscribed to the
// channel, the broadcasting one included, and no node that is not (any
// more).
func testNodesEphemeral(t *testing.T, h Harness) {
	needPeer(t, h)
	a, recA := newBroker(t, h, Options{})
	p, recP := peer(t, h, a, Options{})
	bcA, bcP := broadcaster(t, a), broadcaster(t, p)
	const ch, kept = "conf.nodeeph", "conf.nodeephkept"
	m := func(s string) []byte { return []byte(s) }

	subscribe(t, p, ch)
	broadcast(t, bcA, ch, m("1 from a, only p subscribed"))
	waitEphemeral(t, recP, ch, [][]byte{m("1 from a, only p subscribed")})

	subscribe(t, a, ch)
	broadcast(t, bcA, ch, m("2 from a, both subscribed"))
	// a was not subscribed when it sent the first: a broker that
	// filters never delivers it to a.
	wantA := [][]byte{m("2 from a, both subscribed")}
	if h.DeliversAll {
		wantA = append([][]byte{m("1 from a, only p subscribed")}, wantA...)
	}
	waitEphemeral(t, recA, ch, wantA)
	waitEphemeral(t, recP, ch, [][]byte{m("1 from a, only p subscribed"), m("2 from a, both subscribed")})

	broadcast(t, bcP, ch, m("3 from p"))
	wantA = append(wantA, m("3 from p"))
	waitEphemeral(t, recA, ch, wantA)
	waitEphemeral(t, recP, ch, [][]byte{m("1 from a, only p subscribed"), m("2 from a, both subscribed"), m("3 from p")})

	// p leaves ch but stays in a channel beside it; a's message there,
	// sent after the one to ch, tells when p would have had both.
	subscribe(t, p, kept)
	if err := p.Unsubscribe(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	broadcast(t, bcA, ch, m("4 from a, p gone"))
	broadcast(t, bcA, kept, m("5 from a, to the channel p kept"))
	wantA = append(wantA, m("4 from a, p gone"))
	waitEphemeral(t, recA, ch, wantA)
	waitEphemeral(t, recP, kept, [][]byte{m("5 from a, to the channel p kept")})
	// The delivery to kept came later; give a stray one to ch a moment
	// more all the same.
	time.Sleep(100 * time.Millisecond)
	if got := recP.Ephemeral(ch); !h.DeliversAll && len(got) != 3 {
		t.Fatalf("after Unsubscribe, p received %s on %s, want the first 3 only", quoteAll(got), ch)
	}
	for i, rec := range []*Recorder{recA, recP} {
		if n := rec.EphemeralOverlaps(); n != 0 {
			t.Fatalf("node %d: HandleEphemeral was called %d times while a call for the same channel was in progress", i, n)
		}
	}
}

// testEphemeralAfterCut: a node whose connection to the server breaks
// receives ephemeral messages again once it is back, without being
// subscribed anew. What is broadcast while it is away may be lost; the
// test sends probes until one arrives, and then expects every message.
func testEphemeralAfterCut(t *testing.T, h Harness) {
	if h.Cut == nil {
		t.Skip("the harness cannot break the broker's connection")
	}
	b, rec := newBroker(t, h, Options{})
	from := b
	if h.Peer != nil {
		from, _ = peer(t, h, b, Options{})
	}
	bc := broadcaster(t, from)
	const ch = "conf.ephcut"
	subscribe(t, b, ch)
	broadcast(t, bc, ch, []byte("before"))
	waitEphemeral(t, rec, ch, [][]byte{[]byte("before")})
	h.Cut(t, b)
	deadline := time.Now().Add(3 * waitFor)
	for i := 0; len(rec.Ephemeral(ch)) == 1; i++ {
		if time.Now().After(deadline) {
			t.Fatal("after the cut no ephemeral message arrived any more")
		}
		// Errors are expected while from is the node that was cut.
		_ = bc.Broadcast(context.Background(), ch, fmt.Appendf(nil, "probe %d", i))
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 10 {
		broadcast(t, bc, ch, fmt.Appendf(nil, "after %d", i))
	}
	// Probes may still come in late, among the others.
	var after []string
	for deadline := time.Now().Add(waitFor); len(after) < 10 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		after = after[:0]
		seen := map[string]bool{}
		for _, m := range rec.Ephemeral(ch) {
			if seen[string(m)] {
				t.Fatalf("%q arrived twice", m)
			}
			seen[string(m)] = true
			if bytes.HasPrefix(m, []byte("after ")) {
				after = append(after, string(m))
			}
		}
	}
	if len(after) != 10 {
		t.Fatalf("once back, %d of 10 messages arrived: %q", len(after), after)
	}
}
