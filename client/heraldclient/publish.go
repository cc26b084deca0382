package heraldclient

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// PublishOption adjusts one Publish call.
type PublishOption func(*publishOptions)

type publishOptions struct {
	id string
}

// WithID sets the publish's id, its idempotency key, instead of a random
// one: 1 to 128 bytes of printable ASCII without '"' and '\'. Use it to
// retry a publish across client instances or process restarts: the server
// answers a repeated id on the same channel (within its dedupe window,
// default 10 minutes) with the first ack and does not store it twice. The
// server does not compare payloads: a reused id loses the new message.
func WithID(id string) PublishOption {
	return func(o *publishOptions) { o.id = id }
}

// Publish publishes payload (encoded with encoding/json; pass a
// json.RawMessage for JSON that is already encoded) to channel as event,
// and returns the server's ack once the message is stored.
//
// The publish goes into the client's outbox first. It is sent at once if
// the client is connected, else when it is, and it is resent with the same
// id after every reconnect until it is acked, so a lost connection never
// loses or duplicates it (the server dedupes by id). A transient server
// error (internal, rate_limited) is retried after a backoff; any other
// *Error (forbidden, bad_request, too_large) ends it. If ctx ends first,
// the publish leaves the outbox and ctx's error is returned; it may or may
// not have been stored, which a retry WithID the same id resolves.
func (c *Client) Publish(ctx context.Context, channel, event string, payload any, opts ...PublishOption) (Ack, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Ack{}, fmt.Errorf("heraldclient: encode payload: %w", err)
	}
	return c.publish(ctx, &protocol.Frame{Type: protocol.TypePublish, Channel: channel, Event: event, Payload: raw}, opts)
}

// Edit replaces the payload of the message at seq on channel with payload
// (encoded as Publish encodes it), and returns the ack of the edit: an op
// entry, a message of its own at its own seq. Only the message's author
// may edit it (the server answers forbidden otherwise), and only while the
// server retains it (not_found). It goes through the outbox like Publish,
// with the same retries and options.
func (c *Client) Edit(ctx context.Context, channel string, seq uint64, payload any, opts ...PublishOption) (Ack, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Ack{}, fmt.Errorf("heraldclient: encode payload: %w", err)
	}
	return c.publishOp(ctx, channel, protocol.OpEdit, seq, raw, opts)
}

// Delete deletes the message at seq on channel: from then on replays and
// history return it as a tombstone, with no payload. Like Edit, it is its
// author's alone, and it returns the ack of its op entry.
func (c *Client) Delete(ctx context.Context, channel string, seq uint64, opts ...PublishOption) (Ack, error) {
	return c.publishOp(ctx, channel, protocol.OpDelete, seq, nil, opts)
}

// React adds the user's reaction key (such as "👍", 1 to 64 bytes) to the
// message at seq on channel; reacting again with the same key changes
// nothing. Anyone who may publish to the channel may react.
func (c *Client) React(ctx context.Context, channel string, seq uint64, key string, opts ...PublishOption) (Ack, error) {
	return c.publishReaction(ctx, channel, protocol.OpReact, seq, key, opts)
}

// Unreact takes the user's reaction key away from the message at seq.
func (c *Client) Unreact(ctx context.Context, channel string, seq uint64, key string, opts ...PublishOption) (Ack, error) {
	return c.publishReaction(ctx, channel, protocol.OpUnreact, seq, key, opts)
}

func (c *Client) publishReaction(ctx context.Context, channel, op string, seq uint64, key string, opts []PublishOption) (Ack, error) {
	raw, err := json.Marshal(key)
	if err != nil {
		return Ack{}, fmt.Errorf("heraldclient: encode reaction key: %w", err)
	}
	return c.publishOp(ctx, channel, op, seq, raw, opts)
}

func (c *Client) publishOp(ctx context.Context, channel, op string, seq uint64, payload json.RawMessage, opts []PublishOption) (Ack, error) {
	if seq == 0 {
		return Ack{}, &Error{Code: protocol.CodeBadRequest, Message: "seq must be 1 or more"}
	}
	return c.publish(ctx, &protocol.Frame{Type: protocol.TypePublish, Channel: channel, Op: op, Target: seq, Payload: payload}, opts)
}

// publish sends a publish frame, f without its id, through the outbox.
func (c *Client) publish(ctx context.Context, f *protocol.Frame, opts []PublishOption) (Ack, error) {
	var o publishOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.id == "" {
		o.id = newID()
	}
	f.ID = o.id
	channel := f.Channel
	if err := validatePublish(channel, f.Event, o.id); err != nil {
		return Ack{}, err
	}
	// The server's own checks of op, target and a reaction's key, so that
	// the outbox never holds a frame the server can only refuse.
	if perr := f.ValidateClient(); perr != nil {
		return Ack{}, &Error{Code: perr.Code, Message: perr.Message}
	}
	frame := encode(f)
	if len(frame) > c.cfg.MaxFrameSize {
		return Ack{}, fmt.Errorf("%w: publish frame of %d bytes, MaxFrameSize %d", ErrTooLarge, len(frame), c.cfg.MaxFrameSize)
	}

	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		return Ack{}, err
	}
	p := c.out.get(channel, o.id)
	if p == nil {
		p = &pending{id: o.id, channel: channel, frame: frame, done: make(chan struct{})}
		c.out.add(p)
		if c.conn != nil {
			c.conn.send(frame)
			p.gen = c.connGen
		}
	}
	// Else the same publish is already on its way (WithID): wait for it.
	p.waiters++
	c.mu.Unlock()

	select {
	case <-p.done:
		return p.ack, p.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-p.done: // resolved meanwhile: report the outcome
		return p.ack, p.err
	default:
	}
	if p.waiters--; p.waiters == 0 {
		c.out.remove(p)
	}
	return Ack{}, fmt.Errorf("heraldclient: publish %s: %w", o.id, context.Cause(ctx))
}

// handleAck resolves the publish an ack answers; c.mu must be held. A
// second ack for the same id (the first attempt's and a retry's both
// arrived) finds nothing left to resolve.
func (c *Client) handleAck(f *protocol.Frame) {
	p := c.out.get(f.Channel, f.ID)
	if p == nil {
		return
	}
	c.out.resolve(p, Ack{ID: f.ID, Channel: f.Channel, Seq: f.Seq, Timestamp: time.UnixMilli(f.Timestamp)}, nil)
}

// publishFailed handles an error frame answering a publish; c.mu must be
// held.
func (c *Client) publishFailed(p *pending, e *Error) {
	if !transient(e.Code) {
		c.out.resolve(p, Ack{}, e)
		return
	}
	b := backoff{min: c.cfg.BackoffMin, max: c.cfg.BackoffMax, attempt: p.failures, jitter: randDuration}
	p.failures++
	p.gen, p.retryAt = 0, time.Now().Add(b.next())
	c.log.Warn("heraldclient: publish failed; retrying with the same id", "id", p.id, "channel", p.channel, "err", e)
	c.wakeRun()
}

// newID returns a random publish id: 128 bits from crypto/rand in base32,
// 26 printable characters, so retries can be told apart from new messages
// without coordination.
func newID() string { return rand.Text() }

func validatePublish(channel, event, id string) error {
	if !protocol.ValidChannel(channel) {
		return &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("invalid channel name %q", channel)}
	}
	if len(id) == 0 || len(id) > protocol.MaxIDLen || !printable(id) {
		return &Error{Code: protocol.CodeBadRequest, Message: "id must be 1 to 128 bytes of printable ASCII without quotes or backslashes"}
	}
	if len(event) > protocol.MaxEventLen || !printable(event) {
		return &Error{Code: protocol.CodeBadRequest, Message: "event must be at most 128 bytes of printable ASCII without quotes or backslashes"}
	}
	return nil
}

// printable reports whether s is printable ASCII without '"' and '\', the
// character set of ids and event names.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// encode marshals a client frame. Frames are built from this package's own
// values, so marshalling cannot fail.
func encode(f *protocol.Frame) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic("heraldclient: encode frame: " + err.Error())
	}
	return b
}
