package protocoltest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

func runLifecycle(t *testing.T, tr Transport) {
	t.Run("silent client is dropped", func(t *testing.T) { lifeSilent(t, tr) })
	t.Run("token expires without refresh", func(t *testing.T) { lifeExpiry(t, tr) })
	t.Run("slow consumer is closed and recovers by replay", func(t *testing.T) { lifeSlowConsumer(t, tr) })
	t.Run("drain closes with 1012", func(t *testing.T) { lifeDrain(t, tr) })
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lifeSilent(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		PingInterval: 300 * time.Millisecond, PongTimeout: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
	}})
	// A client that keeps reading answers the server's pings (WebSocket
	// libraries do that inside a pending read) and stays.
	alive := login(t, tr, srv, "alive", "chat.>")
	read := make(chan protocol.Frame, 1)
	go func() {
		f, _ := alive.Next(5 * time.Second)
		read <- f
	}()
	// A client that stops reading answers nothing, like a phone whose
	// network vanished without a FIN.
	login(t, tr, srv, "gone", "chat.>")
	waitFor(t, "the silent connection to be dropped", 3*time.Second, func() bool {
		return srv.Hub.Stats.Connections.Load() == 1
	})
	time.Sleep(300 * time.Millisecond) // several ping intervals of silence
	alive.send(map[string]any{"type": "ping", "id": "late"})
	if f := <-read; f.Type != protocol.TypePong || f.ID != "late" {
		t.Fatalf("the idle reading client got %+v, want its pong", f)
	}
	alive.usable()
}

func lifeExpiry(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{
		TokenExpiryWarning: time.Second, TokenExpiryGrace: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
	}})
	c := dial(t, tr, srv)
	c.send(map[string]any{"type": "auth", "token": testserver.TokenTTL(t, "alice", 2*time.Second, "chat.>")})
	c.expect(protocol.TypeAuthOK)
	frames := c.expectClose(protocol.CloseAuthFailed, 5*time.Second)
	var sawWarning, sawError bool
	for _, f := range frames {
		sawWarning = sawWarning || f.Type == protocol.TypeTokenExpiring
		sawError = sawError || (f.Type == protocol.TypeError && f.Code == protocol.CodeUnauthorized)
	}
	if !sawWarning || !sawError {
		t.Fatalf("before the close: %+v; want token_expiring and an unauthorized error", frames)
	}
}

func lifeSlowConsumer(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{MaxQueueBytes: 64 << 10}})
	slow := login(t, tr, srv, "slow", "flood.>")
	slow.subscribe("flood.1", nil)
	bystander := login(t, tr, srv, "fast", "flood.>")
	bystander.subscribe("flood.1", nil)
	pub := login(t, tr, srv, "pub", "flood.>")

	// Publish until the server gives up on the client that does not
	// read. Kernel socket buffers take several megabytes first.
	payload := strings.Repeat("x", 16<<10)
	var published uint64
	fastGot := uint64(0)
	for srv.Hub.Stats.SlowConsumers.Load() == 0 {
		if published >= 4000 {
			t.Fatal("no slow-consumer close after 64 MB")
		}
		const burst = 25
		for range burst {
			published++
			pub.send(map[string]any{"type": "publish", "id": fmt.Sprint(published), "channel": "flood.1", "payload": payload})
		}
		for range burst {
			pub.expect(protocol.TypeAck)
		}
		for fastGot < published {
			m := bystander.expect(protocol.TypeMessage)
			fastGot++
			if m.Seq != fastGot {
				t.Fatalf("the reading subscriber got seq %d, want %d", m.Seq, fastGot)
			}
		}
	}
	// The slow client gets what was queued, then the close.
	frames := slow.expectClose(protocol.CloseSlowConsumer, 10*time.Second)
	var last uint64
	for _, f := range frames {
		if f.Type != protocol.TypeMessage || f.Seq != last+1 {
			t.Fatalf("before the close: %s seq %d after %d", f.Type, f.Seq, last)
		}
		last = f.Seq
	}
	// It comes back with lastSeq and misses nothing.
	back := login(t, tr, srv, "slow", "flood.>")
	if f := back.subscribe("flood.1", u64(last)); !f.Recovered || f.Seq != published {
		t.Fatalf("resubscribe = %+v, want recovered up to %d", f, published)
	}
	expectRun(t, back, "flood.1", last+1, published)
	bystander.usable()
}

func lifeDrain(t *testing.T, tr Transport) {
	srv := testserver.Start(t, testserver.Options{})
	a := login(t, tr, srv, "a", "chat.>")
	b := dial(t, tr, srv) // not even authenticated
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Hub.Shutdown(ctx, protocol.CloseServiceRestart)
	}()
	a.expectClose(protocol.CloseServiceRestart, 5*time.Second)
	b.expectClose(protocol.CloseServiceRestart, 5*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("drain: %v", err)
	}
	if n := srv.Hub.Stats.Connections.Load(); n != 0 {
		t.Fatalf("%d connections after the drain", n)
	}
}
