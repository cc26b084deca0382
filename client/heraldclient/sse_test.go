package heraldclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// sseOnly makes a client speak the HTTP fallback only.
func sseOnly(cfg *heraldclient.Config) {
	cfg.Transports = []heraldclient.Transport{heraldclient.TransportSSE}
}

// expectTransport fails unless c's connection uses tr.
func expectTransport(t *testing.T, c *heraldclient.Client, tr heraldclient.Transport) {
	t.Helper()
	if got := c.Transport(); got != tr {
		t.Fatalf("transport %v, want %v", got, tr)
	}
}

// TestSSE: the SDK's main behaviours over the SSE transport alone:
// subscribe, publish and ack, resume from lastSeq after the server drops
// the stream (with a close event or without), close codes, and the ping
// events the server sends to a silent session.
func TestSSE(t *testing.T) {
	t.Run("subscribe and publish", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		sub, _ := connected(t, srv.URL, staticToken("alice", "chat.>"), sseOnly)
		pub, _ := connected(t, srv.URL, staticToken("bob", "chat.>"), sseOnly)
		expectTransport(t, sub, heraldclient.TransportSSE)
		expectTransport(t, pub, heraldclient.TransportSSE)
		s := subscribe(t, sub, "chat.sse", heraldclient.SubscribeOptions{})
		for i := 1; i <= 5; i++ {
			if ack := publish(t, pub, "chat.sse", text(i)); ack.Seq != uint64(i) {
				t.Fatalf("ack seq %d, want %d", ack.Seq, i)
			}
		}
		msgs := expectSeqs(t, s, 1, 5)
		if msgs[0].From != "bob" {
			t.Fatalf("from %q, want bob", msgs[0].From)
		}
		// A burst goes up in few POSTs of batches; every publish is acked
		// once and delivered once, in order.
		burst := subscribe(t, sub, "chat.burst", heraldclient.SubscribeOptions{})
		acks := publishConcurrently(t, pub, "chat.burst", 200, func() {})
		expectSeqs(t, burst, 1, 200)
		expectQuiet(t, burst, 200*time.Millisecond)
		checkHistory(t, srv.URL, "chat.burst", acks)
	})

	drops := []struct {
		name string
		// drop ends the subscriber's stream; restore lets it back.
		drop, restore func(t *testing.T, srv *testserver.Server, p *proxy)
		// code is the close code the client reports for the drop.
		code int
	}{
		{"close event",
			func(t *testing.T, srv *testserver.Server, p *proxy) {
				if n, _, _ := srv.Hub.Disconnect(context.Background(), "alice", "", protocol.CloseServiceRestart, "restart"); n != 1 {
					t.Fatalf("disconnected %d connections, want 1", n)
				}
			},
			func(*testing.T, *testserver.Server, *proxy) {},
			protocol.CloseServiceRestart},
		{"stream cut without close",
			func(t *testing.T, srv *testserver.Server, p *proxy) { p.Stop() },
			func(t *testing.T, srv *testserver.Server, p *proxy) {
				if err := p.Start(); err != nil {
					t.Fatal(err)
				}
			},
			protocol.CloseAbnormal},
	}
	for _, tt := range drops {
		t.Run("resume after "+tt.name, func(t *testing.T) {
			srv := testserver.Start(t, testserver.Options{})
			p := newProxy(t, srv)
			sub, states := connected(t, p.URL, staticToken("alice", "chat.>"), sseOnly)
			s := subscribe(t, sub, "chat.resume", heraldclient.SubscribeOptions{})
			pub, _ := connected(t, srv.URL, staticToken("bob", "chat.>"), sseOnly)
			for i := 1; i <= 5; i++ {
				publish(t, pub, "chat.resume", text(i))
			}
			expectSeqs(t, s, 1, 5)

			tt.drop(t, srv, p)
			down := states.waitFor(t, heraldclient.StateDisconnected, waitTimeout)
			var ce *heraldclient.CloseError
			if !errors.As(down.cause, &ce) || ce.Code != tt.code {
				t.Fatalf("disconnected with %v, want close %d", down.cause, tt.code)
			}
			for i := 6; i <= 15; i++ {
				publish(t, pub, "chat.resume", text(i))
			}
			tt.restore(t, srv, p)
			states.waitFor(t, heraldclient.StateConnected, waitTimeout)
			expectTransport(t, sub, heraldclient.TransportSSE)
			for i := 16; i <= 20; i++ {
				publish(t, pub, "chat.resume", text(i))
			}
			expectSeqs(t, s, 6, 20)
			expectQuiet(t, s, 200*time.Millisecond)
		})
	}

	t.Run("close event 4003 stops", func(t *testing.T) {
		srv := testserver.Start(t, testserver.Options{})
		c, states := connected(t, srv.URL, staticToken("alice", "chat.>"), sseOnly)
		if _, _, err := srv.Hub.Disconnect(context.Background(), "alice", "", protocol.CloseForbidden, "revoked"); err != nil {
			t.Fatal(err)
		}
		states.waitFor(t, heraldclient.StateClosed, waitTimeout)
		var ce *heraldclient.CloseError
		if !errors.As(c.Err(), &ce) || ce.Code != protocol.CloseForbidden {
			t.Fatalf("Err %v, want close 4003", c.Err())
		}
		if n := states.connects.Load(); n != 1 {
			t.Fatalf("%d connects after 4003", n)
		}
	})

	t.Run("ping events are answered", func(t *testing.T) {
		// The server pings a session silent for 100ms and drops it if
		// nothing answers within 200ms. The client sends no pings of its
		// own here, so only its answers to the ping events keep it.
		srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
			PingInterval: 100 * time.Millisecond, PongTimeout: 200 * time.Millisecond,
			SweepInterval: 25 * time.Millisecond,
		}})
		c, states := connected(t, srv.URL, staticToken("alice", "chat.>"), func(cfg *heraldclient.Config) {
			sseOnly(cfg)
			cfg.PingInterval = time.Hour
		})
		time.Sleep(time.Second) // several ping rounds
		if n := states.connects.Load(); n != 1 || c.State() != heraldclient.StateConnected {
			t.Fatalf("%d connects, state %v: the session was dropped", n, c.State())
		}
		publish(t, c, "chat.ping", text(1))
	})
}

// TestTransportFallback: a client whose WebSocket cannot be opened
// connects over SSE, and one whose WebSocket works uses it.
func TestTransportFallback(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})

	t.Run("WebSocket refused, SSE works", func(t *testing.T) {
		// /nows answers 404 to the upgrade.
		c, _ := connected(t, "ws://"+srv.Addr()+"/nows", staticToken("alice", "chat.>"), func(cfg *heraldclient.Config) {
			cfg.SSEURL = srv.HTTP + "/sse"
		})
		expectTransport(t, c, heraldclient.TransportSSE)
		s := subscribe(t, c, "chat.fallback", heraldclient.SubscribeOptions{})
		publish(t, c, "chat.fallback", text(1))
		expectSeqs(t, s, 1, 1)
	})

	t.Run("WebSocket first", func(t *testing.T) {
		c, _ := connected(t, srv.URL, staticToken("alice", "chat.>"), nil)
		expectTransport(t, c, heraldclient.TransportWebSocket)
	})

	t.Run("WebSocket only", func(t *testing.T) {
		c, _ := newClient(t, "ws://"+srv.Addr()+"/nows", staticToken("alice", "chat.>"), func(cfg *heraldclient.Config) {
			cfg.SSEURL = srv.HTTP + "/sse"
			cfg.Transports = []heraldclient.Transport{heraldclient.TransportWebSocket}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := c.Connect(ctx); err == nil {
			t.Fatalf("connected over %v with SSE turned off", c.Transport())
		}
	})
}
