// Package protocoltest is the protocol suite every transport passes: every
// frame of docs/PROTOCOL.md, every bad input with its error or close code,
// the replay seam under reconnects, heartbeats, token expiry, slow
// consumers and drains. A transport's tests call Run with a Transport that
// dials raw connections to a node started by internal/testserver.
package protocoltest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// Conn is one raw client connection over a transport.
type Conn interface {
	// SendRaw sends one text frame as given.
	SendRaw(b []byte)
	// Next returns the next server frame, or the error that ended the
	// connection.
	Next(timeout time.Duration) (protocol.Frame, error)
	// Drop cuts the connection without a close handshake.
	Drop()
}

// Transport tells the suite how to reach a node.
type Transport struct {
	Name string
	// Dial opens a connection to srv; the connection is closed when the
	// test ends.
	Dial func(t testing.TB, srv *testserver.Server) Conn
	// CloseCode returns the close code in an error from Next, or -1 when
	// the error is not a close from the server.
	CloseCode func(err error) int
	// SendBinary sends a binary frame; nil where the transport has none.
	SendBinary func(c Conn, b []byte)
}

const timeout = 5 * time.Second

// Run runs the suite.
func Run(t *testing.T, tr Transport) {
	t.Run("Frames", func(t *testing.T) { runFrames(t, tr) })
	t.Run("BadInput", func(t *testing.T) { runBadInput(t, tr) })
	t.Run("Lifecycle", func(t *testing.T) { runLifecycle(t, tr) })
	t.Run("Tokens", func(t *testing.T) { runTokens(t, tr) })
	t.Run("Permissions", func(t *testing.T) { runPermissions(t, tr) })
	t.Run("Limits", func(t *testing.T) { runLimits(t, tr) })
	t.Run("ReplaySeam", func(t *testing.T) { runSeam(t, tr) })
	t.Run("History", func(t *testing.T) { runHistory(t, tr) })
	t.Run("Ops", func(t *testing.T) { runOps(t, tr) })
}

// client wraps a Conn with the checks the suite needs.
type client struct {
	t  testing.TB
	tr Transport
	Conn
}

func dial(t testing.TB, tr Transport, srv *testserver.Server) *client {
	t.Helper()
	return &client{t: t, tr: tr, Conn: tr.Dial(t, srv)}
}

// login dials and authenticates sub with patterns.
func login(t testing.TB, tr Transport, srv *testserver.Server, sub string, patterns ...string) *client {
	t.Helper()
	c := dial(t, tr, srv)
	c.send(map[string]any{"type": "auth", "token": testserver.Token(t, sub, patterns...)})
	c.expect(protocol.TypeAuthOK)
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(b)
}

func (c *client) read() protocol.Frame {
	c.t.Helper()
	f, err := c.Next(timeout)
	if err != nil {
		c.t.Fatalf("read: %v (close code %d)", err, c.tr.CloseCode(err))
	}
	return f
}

func (c *client) expect(typ string) protocol.Frame {
	c.t.Helper()
	f := c.read()
	if f.Type != typ {
		c.t.Fatalf("got %s frame %+v, want %s", f.Type, f, typ)
	}
	return f
}

func (c *client) expectError(code protocol.Code) protocol.Frame {
	c.t.Helper()
	f := c.expect(protocol.TypeError)
	if f.Code != code {
		c.t.Fatalf("got error %s (%q), want %s", f.Code, f.Message, code)
	}
	if f.Message == "" {
		c.t.Errorf("error %s has no message", f.Code)
	}
	return f
}

// expectClose reads until the server closes and checks the code; frames
// read before the close are returned.
func (c *client) expectClose(code int, within time.Duration) []protocol.Frame {
	c.t.Helper()
	var before []protocol.Frame
	deadline := time.Now().Add(within)
	for {
		f, err := c.Next(time.Until(deadline))
		if err == nil {
			before = append(before, f)
			continue
		}
		if got := c.tr.CloseCode(err); got != code {
			c.t.Fatalf("connection ended with close code %d (%v), want %d; frames before: %+v", got, err, code, before)
		}
		return before
	}
}

// usable checks that the connection still answers a ping.
func (c *client) usable() {
	c.t.Helper()
	c.send(map[string]any{"type": "ping", "id": "still-there"})
	if f := c.expect(protocol.TypePong); f.ID != "still-there" {
		c.t.Fatalf("pong carries id %q", f.ID)
	}
}

// subscribe subscribes and returns the subscribed frame.
func (c *client) subscribe(channel string, lastSeq *uint64) protocol.Frame {
	c.t.Helper()
	m := map[string]any{"type": "subscribe", "channel": channel}
	if lastSeq != nil {
		m["lastSeq"] = *lastSeq
	}
	c.send(m)
	return c.expect(protocol.TypeSubscribed)
}

// publish publishes and returns the ack, skipping message frames that
// arrive first (the publisher may be subscribed).
func (c *client) publish(channel, id string, payload any) protocol.Frame {
	c.t.Helper()
	c.send(map[string]any{"type": "publish", "id": id, "channel": channel, "event": "message.new", "payload": payload})
	for {
		f := c.read()
		switch f.Type {
		case protocol.TypeMessage:
			continue
		case protocol.TypeAck:
			if f.ID != id {
				c.t.Fatalf("ack for %q, want %q", f.ID, id)
			}
			return f
		default:
			c.t.Fatalf("got %+v, want the ack of %s", f, id)
		}
	}
}

func u64(v uint64) *uint64 { return &v }
