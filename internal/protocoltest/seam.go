package protocoltest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// runSeam is the seam test: a subscriber drops and comes back with lastSeq
// over and over while another client publishes 10,000 messages; it must
// receive exactly 1..10,000, in order, across all its connections.
func runSeam(t *testing.T, tr Transport) {
	const total = 10_000
	// The publisher is a backend pushing as fast as it can.
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{PublishRate: 1e6, PublishBurst: 1e6, MaxFrameRate: 1e6, MaxFrameBurst: 1e6}})
	pub := login(t, tr, srv, "pub", "seam.>")
	published := make(chan error, 1)
	go func() { published <- publishBatches(pub, "seam.1", total, 50) }()

	var (
		last       uint64
		reconnects int
	)
	for last < total {
		c := login(t, tr, srv, "sub", "seam.>")
		reconnects++
		m := map[string]any{"type": "subscribe", "channel": "seam.1"}
		if reconnects > 1 || last > 0 {
			m["lastSeq"] = last
		} else {
			m["lastSeq"] = 0
		}
		c.send(m)
		if rand.IntN(8) == 0 {
			// Drop before even reading the answer.
			c.Drop()
			continue
		}
		budget := 1 + rand.IntN(400)
		for budget > 0 && last < total {
			f, err := c.Next(10 * time.Second)
			if err != nil {
				t.Fatalf("after seq %d: %v", last, err)
			}
			switch f.Type {
			case protocol.TypeSubscribed:
				if !f.Recovered {
					t.Fatalf("resubscribe with lastSeq %d was not recovered: %+v", last, f)
				}
			case protocol.TypeMessage:
				if f.Seq != last+1 {
					t.Fatalf("got seq %d after %d (connection %d)", f.Seq, last, reconnects)
				}
				last = f.Seq
				budget--
			default:
				t.Fatalf("unexpected %+v", f)
			}
		}
		c.Drop()
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if reconnects < 20 {
		t.Fatalf("only %d connections: the test did not exercise the seam", reconnects)
	}
	t.Logf("received 1..%d across %d connections", total, reconnects)
}

// publishBatches publishes n messages in batch frames of size batch and
// waits for every ack.
func publishBatches(c *client, channel string, n, batch int) error {
	sent := 0
	for sent < n {
		var b strings.Builder
		b.WriteByte('[')
		k := min(batch, n-sent)
		for i := range k {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"type":"publish","id":"p%d","channel":%q,"payload":{"n":%d}}`, sent+i+1, channel, sent+i+1)
		}
		b.WriteByte(']')
		c.SendRaw([]byte(b.String()))
		for range k {
			f, err := c.Next(timeout)
			if err != nil {
				return err
			}
			if f.Type != protocol.TypeAck {
				return fmt.Errorf("publisher got %+v", f)
			}
		}
		sent += k
	}
	return nil
}
