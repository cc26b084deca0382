// Package wstest is a raw protocol client for tests: it sends frames as
// given and reads the server's frames one by one, so tests can check the
// wire exactly.
package wstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/protocol"
)

// Timeout is how long Read waits for a frame by default.
const Timeout = 5 * time.Second

// Client is one raw WebSocket connection.
type Client struct {
	t    testing.TB
	Conn *websocket.Conn
}

// Dial connects to url and closes the connection when the test ends.
func Dial(t testing.TB, url string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(16 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &Client{t: t, Conn: c}
}

// Auth dials and authenticates with token, expecting auth_ok.
func Auth(t testing.TB, url, token string) *Client {
	t.Helper()
	c := Dial(t, url)
	c.Send(map[string]any{"type": "auth", "token": token})
	c.Expect(protocol.TypeAuthOK)
	return c
}

// Send writes v as a JSON text frame.
func (c *Client) Send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(b)
}

// SendRaw writes b as one text frame.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Next reads the next server frame, or returns the read error (a
// websocket.CloseError when the server closed).
func (c *Client) Next(timeout time.Duration) (protocol.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ, b, err := c.Conn.Read(ctx)
	if err != nil {
		return protocol.Frame{}, err
	}
	if typ != websocket.MessageText {
		return protocol.Frame{}, fmt.Errorf("server sent a %v frame", typ)
	}
	var f protocol.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return protocol.Frame{}, fmt.Errorf("server frame %s: %w", b, err)
	}
	return f, nil
}

// Read reads the next frame or fails the test.
func (c *Client) Read() protocol.Frame {
	c.t.Helper()
	f, err := c.Next(Timeout)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

// Expect reads the next frame and fails unless it has the type.
func (c *Client) Expect(typ string) protocol.Frame {
	c.t.Helper()
	f := c.Read()
	if f.Type != typ {
		c.t.Fatalf("got %+v, want a %s frame", f, typ)
	}
	return f
}

// ExpectError reads the next frame and fails unless it is an error with
// the code.
func (c *Client) ExpectError(code protocol.Code) protocol.Frame {
	c.t.Helper()
	f := c.Expect(protocol.TypeError)
	if f.Code != code {
		c.t.Fatalf("got error %s (%s), want %s", f.Code, f.Message, code)
	}
	return f
}

// ExpectClose reads until the server closes, and fails unless it closed
// with the code. Frames before the close are returned.
func (c *Client) ExpectClose(code int, timeout time.Duration) []protocol.Frame {
	c.t.Helper()
	var before []protocol.Frame
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.Next(time.Until(deadline))
		if err == nil {
			before = append(before, f)
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			if int(ce.Code) != code {
				c.t.Fatalf("closed with %d %q, want %d", ce.Code, ce.Reason, code)
			}
			return before
		}
		c.t.Fatalf("want close %d, got %v (after %d frames)", code, err, len(before))
	}
}

// CloseCode returns the close code of err, or -1.
func CloseCode(err error) int {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code)
	}
	return -1
}

// SendBinary writes b as one binary frame.
func (c *Client) SendBinary(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// SendRawErr writes b as one text frame and returns the error instead of
// failing, for tests that expect the server to have gone.
func (c *Client) SendRawErr(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	return c.Conn.Write(ctx, websocket.MessageText, b)
}

// Drop cuts the connection without a close handshake, like a phone that
// loses its network.
func (c *Client) Drop() { _ = c.Conn.CloseNow() }
