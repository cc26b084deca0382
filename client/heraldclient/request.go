package heraldclient

import (
	"context"
	"fmt"

	"github.com/heraldrt/herald/protocol"
)

// request is a query waiting for the frame that answers it: History,
// Presence. The fields but done are guarded by Client.mu; reply and err
// are written before done is closed.
type request struct {
	frame []byte
	done  chan struct{}
	reply *protocol.Frame
	err   error
}

// request sends f, given a fresh id, and waits for the frame that answers
// it (by id) or the error frame that refuses it (by ref). Like Subscribe,
// it waits while the client is disconnected and is sent on connect, and a
// request in flight when the connection drops is sent again on the next
// one (queries are idempotent), so a reconnect never fails it; ctx bounds
// the whole call. An error frame is returned as an *Error.
func (c *Client) request(ctx context.Context, f *protocol.Frame) (*protocol.Frame, error) {
	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	f.ID = c.reqID("q")
	r := &request{frame: encode(f), done: make(chan struct{})}
	c.reqs[f.ID] = r
	if c.conn != nil {
		c.conn.send(r.frame)
	}
	c.mu.Unlock()

	select {
	case <-r.done:
		return r.reply, r.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-r.done: // answered meanwhile: prefer the answer
		return r.reply, r.err
	default:
	}
	delete(c.reqs, f.ID)
	return nil, fmt.Errorf("heraldclient: %s %s: %w", f.Type, f.Channel, context.Cause(ctx))
}

// answer completes the request f answers, if one waits; c.mu must be
// held.
func (c *Client) answer(f *protocol.Frame) {
	if r := c.reqs[f.ID]; r != nil {
		delete(c.reqs, f.ID)
		r.reply = f
		close(r.done)
	}
}

// refuse fails the request an error frame answers, and reports whether
// one waited; c.mu must be held.
func (c *Client) refuse(ref string, e *Error) bool {
	r := c.reqs[ref]
	if r == nil {
		return false
	}
	delete(c.reqs, ref)
	r.err = e
	close(r.done)
	return true
}

// resendRequests sends every waiting request on a new connection; c.mu
// must be held and c.conn set.
func (c *Client) resendRequests() {
	for _, r := range c.reqs {
		c.conn.send(r.frame)
	}
}

// failRequests fails every waiting request with err; c.mu must be held.
func (c *Client) failRequests(err error) {
	for id, r := range c.reqs {
		delete(c.reqs, id)
		r.err = err
		close(r.done)
	}
}
