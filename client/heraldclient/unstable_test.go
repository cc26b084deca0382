package heraldclient_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/internal/testserver"
)

// TestUnstableNetwork runs publishers and subscribers through a fault
// proxy that adds latency and jitter, resets connections and cuts them all
// again and again. Every publish must end with an ack (the outbox retries
// it), every subscriber must see every acked message exactly once, in seq
// order without gaps, and each message at the seq its publisher was acked.
func TestUnstableNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: several seconds of faults through the proxy; the full run (scripts/test.sh, CI) runs it")
	}
	const (
		channel     = "chat.unstable"
		publishers  = 3
		perPub      = 1000
		inFlight    = 16 // concurrent publishes per publisher
		subscribers = 3
		total       = publishers * perPub
	)
	srv := testserver.Start(t, testserver.Options{})
	p := newProxy(t, srv)
	p.addToxic(t, "lag-down", "latency", "downstream", map[string]any{"latency": 8, "jitter": 6})
	p.addToxic(t, "lag-up", "latency", "upstream", map[string]any{"latency": 4, "jitter": 3})

	tweak := func(cfg *heraldclient.Config) {
		cfg.PingInterval, cfg.PongTimeout = 500*time.Millisecond, time.Second
		cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 200*time.Millisecond
		cfg.DialTimeout = 2 * time.Second
	}

	// Subscribers replay from the start of the (empty) channel.
	zero := uint64(0)
	received := make([][]heraldclient.Message, subscribers)
	var logs []*stateLog
	var readers sync.WaitGroup
	for i := range subscribers {
		c, states := connected(t, p.URL, staticToken(fmt.Sprint("sub", i), "chat.>"), tweak)
		logs = append(logs, states)
		sub := subscribe(t, c, channel, heraldclient.SubscribeOptions{LastSeq: &zero})
		readers.Add(1)
		go func() {
			defer readers.Done()
			timeout := time.After(40 * time.Second)
			for len(received[i]) < total {
				select {
				case m := <-sub.Messages():
					received[i] = append(received[i], m)
				case <-timeout:
					return
				}
			}
		}()
	}

	pubs := make([]*heraldclient.Client, publishers)
	for i := range pubs {
		var states *stateLog
		pubs[i], states = connected(t, p.URL, staticToken(fmt.Sprint("pub", i), "chat.>"), tweak)
		logs = append(logs, states)
	}

	// Chaos: until the publishers are done, every 50–250ms either cut
	// every connection or let the next bytes downstream reset them.
	stopChaos := make(chan struct{})
	chaosDone := make(chan int)
	go func() {
		faults := 0
		defer func() { chaosDone <- faults }()
		for {
			select {
			case <-stopChaos:
				return
			case <-time.After(time.Duration(50+rand.IntN(200)) * time.Millisecond):
			}
			faults++
			if rand.IntN(2) == 0 {
				p.cut(t)
				continue
			}
			p.addToxic(t, "reset", "reset_peer", "downstream", map[string]any{"timeout": rand.IntN(30)})
			time.Sleep(50 * time.Millisecond)
			p.removeToxic(t, "reset")
		}
	}()

	type acked struct {
		ack heraldclient.Ack
		pub int
	}
	var mu sync.Mutex
	acks := map[string]acked{} // by message id
	var failed []error
	var wg sync.WaitGroup
	start := time.Now()
	for pi, c := range pubs {
		next := make(chan int)
		go func() {
			for n := range perPub {
				next <- n
			}
			close(next)
		}()
		for range inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range next {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					ack, err := c.Publish(ctx, channel, "message.new", map[string]int{"pub": pi, "n": n})
					cancel()
					mu.Lock()
					if err != nil {
						failed = append(failed, err)
					} else {
						acks[ack.ID] = acked{ack, pi}
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(stopChaos)
	faults := <-chaosDone
	connects := 0
	for _, l := range logs {
		connects += int(l.connects.Load())
	}
	t.Logf("%d publishes acked in %v under %d faults; %d connects by %d clients",
		len(acks), time.Since(start).Round(time.Millisecond), faults, connects, len(logs))
	if len(failed) > 0 {
		t.Fatalf("%d publishes failed, the first: %v", len(failed), failed[0])
	}
	if len(acks) != total {
		t.Fatalf("%d acks for %d publishes", len(acks), total)
	}
	bySeq := map[uint64]string{}
	for id, a := range acks {
		if other, dup := bySeq[a.ack.Seq]; dup {
			t.Fatalf("seq %d acked for %s and %s", a.ack.Seq, id, other)
		}
		bySeq[a.ack.Seq] = id
	}

	readers.Wait()
	for i, msgs := range received {
		if len(msgs) != total {
			t.Fatalf("subscriber %d got %d messages, want %d", i, len(msgs), total)
		}
		for j, m := range msgs {
			switch {
			case m.SnapshotRequired != nil:
				t.Fatalf("subscriber %d: unexpected snapshot_required %+v", i, *m.SnapshotRequired)
			case m.Seq != uint64(j+1):
				t.Fatalf("subscriber %d: message %d has seq %d (gap, duplicate or reorder)", i, j, m.Seq)
			case bySeq[m.Seq] != m.ID:
				t.Fatalf("subscriber %d: seq %d is %s, but %s was acked with it", i, m.Seq, m.ID, bySeq[m.Seq])
			}
		}
	}
	checkHistory(t, srv.URL, channel, func() map[string]heraldclient.Ack {
		m := map[string]heraldclient.Ack{}
		for id, a := range acks {
			m[id] = a.ack
		}
		return m
	}())
}
