package heraldclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestReconnectReplay: a subscriber loses its connection while another
// client publishes; after the reconnect it has every message exactly once,
// in order, whichever way the connection died.
func TestReconnectReplay(t *testing.T) {
	tests := []struct {
		name string
		// cut breaks the subscriber's connection; restore lets it back.
		cut, restore func(t *testing.T, p *proxy)
	}{
		{"proxy down",
			func(t *testing.T, p *proxy) { p.Stop() },
			func(t *testing.T, p *proxy) {
				if err := p.Start(); err != nil {
					t.Fatal(err)
				}
			}},
		{"reset_peer",
			func(t *testing.T, p *proxy) {
				p.addToxic(t, "reset", "reset_peer", "downstream", map[string]any{"timeout": 0})
			},
			func(t *testing.T, p *proxy) { p.removeToxic(t, "reset") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testserver.Start(t, testserver.Options{})
			p := newProxy(t, srv)
			sub, states := connected(t, p.URL, staticToken("alice", "chat.>"), nil)
			s := subscribe(t, sub, "chat.r", heraldclient.SubscribeOptions{})
			pub, _ := connected(t, srv.URL, staticToken("bob", "chat.>"), nil)

			for i := 1; i <= 5; i++ {
				publish(t, pub, "chat.r", text(i))
			}
			expectSeqs(t, s, 1, 5)

			tt.cut(t, p)
			// Published while the subscriber is cut off; with reset_peer
			// the first of them is what trips the reset.
			for i := 6; i <= 15; i++ {
				publish(t, pub, "chat.r", text(i))
			}
			down := states.waitFor(t, heraldclient.StateDisconnected, waitTimeout)
			t.Logf("disconnected: %v", down.cause)
			tt.restore(t, p)
			states.waitFor(t, heraldclient.StateConnected, waitTimeout)
			for i := 16; i <= 20; i++ {
				publish(t, pub, "chat.r", text(i))
			}
			expectSeqs(t, s, 6, 20)
			expectQuiet(t, s, 200*time.Millisecond)
			if n := states.connects.Load(); n < 2 {
				t.Fatalf("%d connects, want a reconnect", n)
			}
		})
	}
}

// TestOutbox: publishes survive disconnects. Those made while disconnected
// are sent once connected and acked once; one whose ack was lost is resent
// with the same id and the server's dedupe answers with the original seq.
func TestOutbox(t *testing.T) {
	t.Run("before connect", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		c, _ := newClient(t, srv.URL, staticToken("alice", "chat.>"), nil)
		zero := uint64(0)
		subscribed := make(chan *heraldclient.Subscription, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			sub, err := c.Subscribe(ctx, "chat.early", heraldclient.SubscribeOptions{LastSeq: &zero})
			if err != nil {
				t.Error(err)
			}
			subscribed <- sub
		}()
		acks := publishConcurrently(t, c, "chat.early", 10, func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := c.Connect(ctx); err != nil {
				t.Error(err)
			}
		})
		if sub := <-subscribed; sub != nil {
			for _, m := range expectSeqs(t, sub, 1, 10) {
				if acks[m.ID].Seq != m.Seq {
					t.Fatalf("message %s at seq %d, acked %+v", m.ID, m.Seq, acks[m.ID])
				}
			}
		}
		checkHistory(t, srv.URL, "chat.early", acks)
	})

	t.Run("while disconnected", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		p := newProxy(t, srv)
		c, states := connected(t, p.URL, staticToken("alice", "chat.>"), nil)
		p.Stop()
		states.waitFor(t, heraldclient.StateDisconnected, waitTimeout)
		acks := publishConcurrently(t, c, "chat.offline", 20, func() {
			time.Sleep(100 * time.Millisecond) // the publishes are queued
			if err := p.Start(); err != nil {
				t.Error(err)
			}
		})
		checkHistory(t, srv.URL, "chat.offline", acks)
	})

	t.Run("lost ack", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		p := newProxy(t, srv)
		c, states := connected(t, p.URL, staticToken("alice", "chat.>"), nil)
		// An observer straight on the server sees when the message is
		// stored.
		obs, _ := connected(t, srv.URL, staticToken("observer", "chat.>"), nil)
		seen := subscribe(t, obs, "chat.lost", heraldclient.SubscribeOptions{})

		// Everything from the server to c vanishes, the ack included.
		p.addToxic(t, "blackhole", "timeout", "downstream", map[string]any{"timeout": 0})
		result := make(chan error, 1)
		var ack heraldclient.Ack
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			var err error
			ack, err = c.Publish(ctx, "chat.lost", "message.new", text(1), heraldclient.WithID("lost-ack-1"))
			result <- err
		}()
		stored := recv(t, seen)
		if stored.ID != "lost-ack-1" {
			t.Fatalf("stored %+v", stored)
		}
		select {
		case err := <-result:
			t.Fatalf("publish returned (%v) while its ack could not arrive", err)
		case <-time.After(100 * time.Millisecond):
		}
		// Removing the toxic closes the connection; the reconnect resends.
		p.removeToxic(t, "blackhole")
		if err := <-result; err != nil {
			t.Fatal(err)
		}
		if ack.Seq != stored.Seq || ack.ID != "lost-ack-1" || !ack.Timestamp.Equal(stored.Timestamp) {
			t.Fatalf("ack %+v after retry, stored as seq %d at %v", ack, stored.Seq, stored.Timestamp)
		}
		if n := states.connects.Load(); n != 2 {
			t.Fatalf("%d connects, want 2 (the ack came on the second)", n)
		}
		expectQuiet(t, seen, 200*time.Millisecond) // the retry was not delivered again
		checkHistory(t, srv.URL, "chat.lost", map[string]heraldclient.Ack{"lost-ack-1": ack})
	})

	t.Run("cancelled publish leaves the outbox", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		c, _ := newClient(t, srv.URL, staticToken("alice", "chat.>"), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := c.Publish(ctx, "chat.gone", "e", 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		publish(t, c, "chat.gone", text(2))
		if h := history(t, srv.URL, "chat.gone"); len(h) != 1 {
			t.Fatalf("history holds %d messages, want only the second publish", len(h))
		}
	})
}

// publishConcurrently publishes n messages from n goroutines, runs
// meanwhile once they are all waiting, and returns the acks by id.
func publishConcurrently(t *testing.T, c *heraldclient.Client, channel string, n int, meanwhile func()) map[string]heraldclient.Ack {
	t.Helper()
	var mu sync.Mutex
	acks := map[string]heraldclient.Ack{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			ack, err := c.Publish(ctx, channel, "message.new", text(i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			acks[ack.ID] = ack
			mu.Unlock()
		}()
	}
	time.Sleep(50 * time.Millisecond)
	meanwhile()
	wg.Wait()
	if len(acks) != n {
		t.Fatalf("%d distinct acks for %d publishes", len(acks), n)
	}
	return acks
}

// checkHistory reads the channel's log from the server and fails unless
// it holds exactly the acked publishes, each once, at its acked seq.
func checkHistory(t *testing.T, url, channel string, acks map[string]heraldclient.Ack) {
	t.Helper()
	h := history(t, url, channel)
	if len(h) != len(acks) {
		t.Fatalf("history of %s holds %d messages, want %d", channel, len(h), len(acks))
	}
	for _, f := range h {
		ack, ok := acks[f.ID]
		if !ok || ack.Seq != f.Seq {
			t.Fatalf("history has %s at seq %d; acked: %+v (%v)", f.ID, f.Seq, ack, ok)
		}
		delete(acks, f.ID) // a second copy of the id would fail above
	}
}

// TestTokenRefresh: token_expiring makes the client fetch a new token and
// send it on the same connection; subscriptions keep flowing.
func TestTokenRefresh(t *testing.T) {
	// With a 3s token and a 2s warning, token_expiring comes about a
	// second after each auth, so a refresh that did not work would end the
	// connection with 4001 at second three.
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		TokenExpiryWarning: 2 * time.Second, SweepInterval: 100 * time.Millisecond,
	}})
	var calls atomic.Int32
	token := func(context.Context) (string, error) {
		calls.Add(1)
		return mint("alice", 3*time.Second, "chat.>"), nil
	}
	c, states := connected(t, srv.URL, token, nil)
	id := c.ConnectionID()
	s := subscribe(t, c, "chat.t", heraldclient.SubscribeOptions{})
	pub, _ := connected(t, srv.URL, staticToken("bob", "chat.>"), nil)

	var seq uint64
	for end := time.Now().Add(4500 * time.Millisecond); time.Now().Before(end); {
		seq = publish(t, pub, "chat.t", text(int(seq))).Seq
		expectSeqs(t, s, seq, seq)
		time.Sleep(100 * time.Millisecond)
	}
	// The client's own publishes are checked against the refreshed token.
	publish(t, c, "chat.t", text(0))
	if n := calls.Load(); n < 3 {
		t.Fatalf("Token called %d times, want the connect and at least two refreshes", n)
	}
	if n := states.connects.Load(); n != 1 || c.ConnectionID() != id || c.State() != heraldclient.StateConnected {
		t.Fatalf("%d connects, connection %s then %s, state %v: the refresh reconnected", n, id, c.ConnectionID(), c.State())
	}
}

// TestTokenRefreshRevokes: a refreshed token that no longer grants a
// channel ends that subscription with forbidden; the others and the
// connection go on.
func TestTokenRefreshRevokes(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		TokenExpiryWarning: 2 * time.Second, SweepInterval: 100 * time.Millisecond,
	}})
	var calls atomic.Int32
	token := func(context.Context) (string, error) {
		if calls.Add(1) == 1 {
			return mint("alice", 3*time.Second, "chat.>", "news.>"), nil
		}
		return mint("alice", time.Hour, "news.>"), nil
	}
	c, states := connected(t, srv.URL, token, nil)
	chat := subscribe(t, c, "chat.revoked", heraldclient.SubscribeOptions{})
	news := subscribe(t, c, "news.kept", heraldclient.SubscribeOptions{})

	select {
	case <-chat.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the subscription the new token does not grant did not end")
	}
	var e *heraldclient.Error
	if err := chat.Err(); !errors.As(err, &e) || e.Code != protocol.CodeForbidden {
		t.Fatalf("revoked subscription ended with %v, want forbidden", err)
	}
	pub, _ := connected(t, srv.URL, staticToken("bob", "news.>"), nil)
	seq := publish(t, pub, "news.kept", text(1)).Seq
	expectSeqs(t, news, seq, seq)
	if n := states.connects.Load(); n != 1 || c.State() != heraldclient.StateConnected {
		t.Fatalf("%d connects, state %v: the refresh reconnected", n, c.State())
	}
}

// TestCloseCodes: the client follows PROTOCOL.md §10 where the server
// tells it what to do.
func TestCloseCodes(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		TokenExpiryWarning: 2 * time.Second, SweepInterval: 100 * time.Millisecond,
	}})

	t.Run("4001 reconnects with a new token", func(t *testing.T) {
		// The refresh fails, so the token expires and the server closes
		// with 4001; the reconnect fetches a new one and resubscribes.
		var calls atomic.Int32
		token := func(context.Context) (string, error) {
			switch calls.Add(1) {
			case 1:
				return mint("alice", 2500*time.Millisecond, "chat.>"), nil
			case 2:
				return "", errors.New("token backend briefly down")
			}
			return mint("alice", time.Hour, "chat.>"), nil
		}
		c, states := connected(t, srv.URL, token, nil)
		s := subscribe(t, c, "chat.4001", heraldclient.SubscribeOptions{})
		down := states.waitFor(t, heraldclient.StateDisconnected, waitTimeout)
		var ce *heraldclient.CloseError
		if !errors.As(down.cause, &ce) || ce.Code != protocol.CloseAuthFailed {
			t.Fatalf("disconnected with %v, want close 4001", down.cause)
		}
		states.waitFor(t, heraldclient.StateConnected, waitTimeout)
		if n := calls.Load(); n != 3 {
			t.Fatalf("Token called %d times, want 3", n)
		}
		publish(t, c, "chat.4001", text(1))
		expectSeqs(t, s, 1, 1)
	})

	t.Run("4003 stops", func(t *testing.T) {
		// A refresh token for another user: the server closes with 4003,
		// and the client must not reconnect as that user.
		var calls atomic.Int32
		token := func(context.Context) (string, error) {
			if calls.Add(1) == 1 {
				return mint("alice", 2500*time.Millisecond, "chat.>"), nil
			}
			return mint("mallory", time.Hour, "chat.>"), nil
		}
		c, states := connected(t, srv.URL, token, nil)
		s := subscribe(t, c, "chat.4003", heraldclient.SubscribeOptions{})
		states.waitFor(t, heraldclient.StateClosed, waitTimeout)
		<-c.Done()
		var ce *heraldclient.CloseError
		if !errors.As(c.Err(), &ce) || ce.Code != protocol.CloseForbidden {
			t.Fatalf("Err %v, want close 4003", c.Err())
		}
		if _, ok := <-s.Messages(); ok || !errors.Is(s.Err(), c.Err()) {
			t.Fatalf("subscription not ended with the close (err %v)", s.Err())
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if _, err := c.Publish(ctx, "chat.4003", "e", 1); !errors.As(err, &ce) {
			t.Fatalf("Publish after stop: %v", err)
		}
		if n := states.connects.Load(); n != 1 {
			t.Fatalf("%d connects after 4003", n)
		}
	})
}

// TestHeartbeat: a server that goes silent while the TCP connection stays
// up is noticed within PingInterval+PongTimeout, and the client reconnects
// and catches up once the network heals.
func TestHeartbeat(t *testing.T) {
	const ping, pong = 200 * time.Millisecond, 300 * time.Millisecond
	srv := testserver.Start(t, testserver.Options{})
	p := newProxy(t, srv)
	c, states := connected(t, p.URL, staticToken("alice", "chat.>"), func(cfg *heraldclient.Config) {
		cfg.PingInterval, cfg.PongTimeout, cfg.DialTimeout = ping, pong, time.Second
	})
	s := subscribe(t, c, "chat.hb", heraldclient.SubscribeOptions{})
	pub, _ := connected(t, srv.URL, staticToken("bob", "chat.>"), nil)

	// A few quiet intervals: the pongs keep the connection up.
	time.Sleep(3 * (ping + pong))
	if n := states.connects.Load(); n != 1 {
		t.Fatalf("%d connects on a healthy connection", n)
	}

	p.addToxic(t, "silence", "timeout", "downstream", map[string]any{"timeout": 0})
	start := time.Now()
	down := states.waitFor(t, heraldclient.StateDisconnected, waitTimeout)
	took := down.at.Sub(start)
	t.Logf("silent server noticed after %v: %v", took, down.cause)
	if !errors.Is(down.cause, heraldclient.ErrHeartbeatTimeout) {
		t.Fatalf("disconnected with %v, want ErrHeartbeatTimeout", down.cause)
	}
	// The bound, plus scheduling slack for -race on a busy machine.
	if limit := ping + pong + time.Second; took > limit {
		t.Fatalf("took %v to notice, more than %v", took, limit)
	}
	for i := 1; i <= 3; i++ {
		publish(t, pub, "chat.hb", text(i))
	}
	p.removeToxic(t, "silence")
	states.waitFor(t, heraldclient.StateConnected, waitTimeout)
	expectSeqs(t, s, 1, 3)
}

func ExampleClient() {
	c, err := heraldclient.New(heraldclient.Config{
		URL:   "ws://127.0.0.1:8080/ws",
		Token: func(ctx context.Context) (string, error) { return "a JWT from your backend", nil },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	sub, err := c.Subscribe(ctx, "chat.1", heraldclient.SubscribeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() {
		for m := range sub.Messages() {
			if m.SnapshotRequired != nil {
				// Reload chat.1's state from the app backend.
				continue
			}
			fmt.Println(m.Seq, string(m.Payload))
		}
	}()
	if _, err := c.Publish(ctx, "chat.1", "message.new", map[string]any{"text": "hi"}); err != nil {
		fmt.Println(err)
	}
}

// TestFallbackURLs: a client moves on to the next endpoint when one is
// down or goes away.
func TestFallbackURLs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + ln.Addr().String() + "/ws"
	ln.Close()
	a := testserver.Start(t, testserver.Options{})
	b := testserver.Start(t, testserver.Options{})
	tweak := func(urls ...string) func(*heraldclient.Config) {
		return func(cfg *heraldclient.Config) {
			cfg.FallbackURLs = urls
			cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 50*time.Millisecond
		}
	}

	t.Run("first endpoint down", func(t *testing.T) {
		c, _ := connected(t, dead, staticToken("alice", "chat.>"), tweak(a.URL))
		publish(t, c, "chat.fallback", text(1))
	})
	t.Run("node goes away", func(t *testing.T) {
		c, states := connected(t, a.URL, staticToken("alice", "chat.>"), tweak(b.URL))
		publish(t, c, "chat.fallback", text(2))
		a.Stop()
		states.waitFor(t, heraldclient.StateDisconnected, waitTimeout)
		states.waitFor(t, heraldclient.StateConnected, waitTimeout)
		if ack := publish(t, c, "chat.moved", text(3)); ack.Seq != 1 {
			t.Fatalf("publish after the move got seq %d, want 1 on the other node", ack.Seq)
		}
		if n := b.Hub.Stats.Authenticated.Load(); n == 0 {
			t.Fatal("the other node saw no authenticated connection")
		}
	})
}
