package heraldclient

import (
	"context"
	"fmt"

	"github.com/heraldrt/herald/protocol"
)

// reply is the answer to a request: the server's frame, or an error.
type reply struct {
	f   *protocol.Frame
	err error
}

// request sends the frame that build makes with a fresh id once the
// client is connected, and waits for the frame that answers it (by id) or
// the error frame that refuses it (by ref). A connection lost before the
// answer fails it with ErrNotConnected: requests are queries, which the
// caller may simply retry.
func (c *Client) request(ctx context.Context, build func(id string) *protocol.Frame) (*protocol.Frame, error) {
	if err := c.waitConnected(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	if c.conn == nil {
		c.mu.Unlock()
		return nil, ErrNotConnected
	}
	id := c.reqID("q")
	w := make(chan reply, 1)
	c.reqs[id] = w
	f := build(id)
	c.conn.send(encode(f))
	c.mu.Unlock()
	select {
	case r := <-w:
		return r.f, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.reqs, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("heraldclient: %s %s: %w", f.Type, f.Channel, context.Cause(ctx))
	}
}

// answer completes the request f answers, if one waits; c.mu must be
// held.
func (c *Client) answer(f *protocol.Frame) bool {
	w, ok := c.reqs[f.ID]
	if ok {
		delete(c.reqs, f.ID)
		w <- reply{f: f}
	}
	return ok
}

// refuse fails the request an error frame answers, if one waits; c.mu
// must be held.
func (c *Client) refuse(ref string, e *Error) bool {
	w, ok := c.reqs[ref]
	if ok {
		delete(c.reqs, ref)
		w <- reply{err: e}
	}
	return ok
}

// failRequests fails every waiting request with err; c.mu must be held.
func (c *Client) failRequests(err error) {
	for id, w := range c.reqs {
		delete(c.reqs, id)
		w <- reply{err: err}
	}
}
