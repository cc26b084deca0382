package heraldclient

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// SubscribeOptions adjust one subscription.
type SubscribeOptions struct {
	// LastSeq, if set, is the last seq the app has handled on the channel
	// (persisted from an earlier run, say): the server replays every
	// message after it, or starts the stream with a SnapshotRequired notice
	// when those are gone. Nil subscribes live, from the channel's head at
	// the time the server confirms the subscription.
	LastSeq *uint64
	// BufferSize is how many messages the subscription holds for the app.
	// Zero means Config.BufferSize. See "Backpressure" in the package
	// documentation.
	BufferSize int
	// Presence follows the channel's presence: Subscription.Presence
	// and PresenceEvents. The namespace must have presence on.
	Presence bool
	// Receipts follows the channel's delivery and read positions:
	// Subscription.Unread, Receipts and ReceiptEvents.
	Receipts bool
	// State keeps the channel's state (Subscription.State): the server
	// sends it after each subscribe, and in a SnapshotRequired notice.
	State bool
}

// Subscription is one channel's stream of messages. It lives until
// Unsubscribe, Close, or a server error that ends it; reconnects do not end
// it: the client resubscribes with the last seq it delivered, and the server
// replays what was missed.
type Subscription struct {
	c       *Client
	channel string
	// ch carries the stream to the app. It is sent to (never blocking) and
	// closed only with c.mu held, so a send never meets a closed channel.
	ch chan Message
	// ready is closed when the first subscribe is answered; readyErr is
	// the answer, written before ready is closed.
	ready    chan struct{}
	readyErr error
	// done is closed when the subscription ends.
	done chan struct{}
	// watch is SubscribeOptions.Presence. presCh and typCh carry
	// presence and typing events, sent to without blocking.
	watch     bool
	receipts  bool
	wantState bool
	presCh    chan PresenceEvent
	typCh     chan TypingNotice
	rcptCh    chan ReceiptsEvent
	statusCh  chan UserStatus

	// The fields below are guarded by c.mu.

	// lastSeq is the seq of the last message put into ch; hasSeq is false
	// until it is known (a live subscription learns it from subscribed).
	lastSeq uint64
	hasSeq  bool
	// reqID is the id of the subscribe frame in flight on the current
	// connection, "" when none is.
	reqID string
	// live is set when the server confirmed the subscription on the current
	// connection and its messages are accepted.
	live bool
	// paused is set while the subscription is not subscribed on the
	// server on purpose: the app fell behind (ch was full), or the server
	// answered with a transient error. The run loop resubscribes it once
	// ch is at most half full and retryAt has passed.
	paused   bool
	retryAt  time.Time
	failures int
	// confirmed is set once ready is closed; ended once ch and done are.
	confirmed bool
	ended     bool
	err       error
	// members, presCount and listed are the presence last heard (members
	// is nil before the first presence_state); typists maps the users
	// typing to when their notice runs out.
	members   map[string]PresenceMember
	presCount int
	listed    bool
	typists   map[string]time.Time
	// delivered and read are the channel's positions by user, readSeq
	// and unread the user's own from the last subscribed; sentDelivered
	// and sentRead the highest this client reported, sent again after a
	// reconnect.
	delivered, read         map[string]uint64
	readSeq, unread         uint64
	sentDelivered, sentRead uint64
	// userStatus is the last user_status of a status channel.
	userStatus *UserStatus
	// state is the channel's state by key, for a subscription with
	// State.
	state map[string]stateValue
}

// Subscribe subscribes to channel and returns once the server has confirmed
// it (or with the server's *Error, for example code forbidden). While the
// client is disconnected the subscribe waits and is sent on connect. If ctx
// ends first, the subscription is removed and ctx's error returned.
// Subscribing to a channel the client is already subscribed to returns
// ErrAlreadySubscribed.
func (c *Client) Subscribe(ctx context.Context, channel string, opts SubscribeOptions) (*Subscription, error) {
	if !protocol.ValidChannel(channel) {
		return nil, &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("invalid channel name %q", channel)}
	}
	size := opts.BufferSize
	if size <= 0 {
		size = c.cfg.BufferSize
	}
	sub := &Subscription{
		c: c, channel: channel,
		ch:        make(chan Message, size),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		watch:     opts.Presence,
		receipts:  opts.Receipts,
		wantState: opts.State,
		rcptCh:    make(chan ReceiptsEvent, eventBuffer),
		statusCh:  make(chan UserStatus, eventBuffer),

		presCh:  make(chan PresenceEvent, eventBuffer),
		typCh:   make(chan TypingNotice, eventBuffer),
		typists: make(map[string]time.Time),
	}
	if opts.LastSeq != nil {
		sub.lastSeq, sub.hasSeq = *opts.LastSeq, true
	}
	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	if c.subs[channel] != nil {
		c.mu.Unlock()
		return nil, ErrAlreadySubscribed
	}
	c.subs[channel] = sub
	if c.conn != nil {
		c.sendSubscribe(sub)
	}
	c.mu.Unlock()

	select {
	case <-sub.ready:
	case <-ctx.Done():
		select {
		case <-sub.ready: // answered meanwhile: prefer the answer
		default:
			c.removeSub(sub, false)
			return nil, fmt.Errorf("heraldclient: subscribe %s: %w", channel, context.Cause(ctx))
		}
	}
	if sub.readyErr != nil {
		return nil, sub.readyErr
	}
	return sub, nil
}

// Unsubscribe ends the subscription to channel; see Subscription.Unsubscribe.
// It returns ErrNotSubscribed if there is none.
func (c *Client) Unsubscribe(ctx context.Context, channel string) error {
	c.mu.Lock()
	sub := c.subs[channel]
	c.mu.Unlock()
	if sub == nil {
		return ErrNotSubscribed
	}
	return sub.Unsubscribe(ctx)
}

// Channel returns the channel's name.
func (s *Subscription) Channel() string { return s.channel }

// Messages returns the subscription's stream. Each seq arrives once, in
// order; a SnapshotRequired element marks a gap the server could not fill.
// The channel is closed when the subscription ends; Err then says why.
func (s *Subscription) Messages() <-chan Message { return s.ch }

// Done returns a channel that is closed when the subscription ends.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil while it runs and after
// Unsubscribe, ErrClosed (or the client's Err) after the client stopped, or
// the server's *Error when it refused a resubscribe or ended the
// subscription (forbidden after a token refresh that no longer grants the
// channel).
func (s *Subscription) Err() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.err
}

// LastSeq returns the seq of the last message put into the Messages channel,
// and false before it is known. It is what the client resubscribes from. An
// app that persists its position should store the Seq of the messages it
// has handled instead, since buffered messages may not have been yet.
func (s *Subscription) LastSeq() (uint64, bool) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.lastSeq, s.hasSeq
}

// Unsubscribe ends the subscription: Messages is closed at once (messages
// still buffered in it can be read), and, if connected, the server is told
// and Unsubscribe waits for its reply or ctx. Calling it again is a no-op.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	id, wait := s.c.removeSub(s, true)
	if wait == nil {
		return nil
	}
	select {
	case err := <-wait:
		return err
	case <-ctx.Done():
		s.c.mu.Lock()
		delete(s.c.unsubs, id)
		s.c.mu.Unlock()
		return fmt.Errorf("heraldclient: unsubscribe %s: %w", s.channel, context.Cause(ctx))
	}
}

// removeSub removes sub and tells the server if it has the subscription. If
// wait is set it returns a channel for the server's reply, with the frame
// id it is registered under.
func (c *Client) removeSub(sub *Subscription, wait bool) (string, chan error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs[sub.channel] != sub {
		return "", nil
	}
	delete(c.subs, sub.channel)
	var id string
	var w chan error
	if c.conn != nil && (sub.live || sub.reqID != "") {
		id = c.reqID("u")
		c.conn.send(encode(&protocol.Frame{Type: protocol.TypeUnsubscribe, ID: id, Channel: sub.channel}))
		if wait {
			w = make(chan error, 1)
			c.unsubs[id] = w
		}
	}
	c.endSub(sub, nil)
	return id, w
}

// endSub ends sub with err; c.mu must be held.
func (c *Client) endSub(sub *Subscription, err error) {
	if sub.ended {
		return
	}
	sub.ended, sub.err = true, err
	sub.live, sub.paused, sub.reqID = false, false, ""
	close(sub.ch)
	close(sub.done)
	if !sub.confirmed {
		sub.confirmed = true
		sub.readyErr = err
		if err == nil {
			sub.readyErr = ErrUnsubscribed
		}
		close(sub.ready)
	}
}

// sendSubscribe (re)subscribes sub on the current connection from its
// lastSeq; c.mu must be held and c.conn set. Until the server confirms it,
// the channel's messages are dropped: they belong to an earlier server-side
// subscription, and the new one replays them.
func (c *Client) sendSubscribe(sub *Subscription) {
	sub.reqID = c.reqID("s")
	sub.live = false
	f := protocol.Frame{Type: protocol.TypeSubscribe, ID: sub.reqID, Channel: sub.channel, Presence: sub.watch, Receipts: sub.receipts, State: sub.wantState}
	if sub.hasSeq {
		last := sub.lastSeq
		f.LastSeq = &last
	}
	c.conn.send(encode(&f))
}

// offer puts m into sub's stream without blocking. If the app has not made
// room, sub is paused and offer reports false: the message is dropped here
// but not lost, since lastSeq stays put and the resubscribe replays it.
// c.mu must be held.
func (c *Client) offer(sub *Subscription, m Message) bool {
	select {
	case sub.ch <- m:
		return true
	default:
		c.pause(sub, time.Time{})
		return false
	}
}

// pause stops sub on the server until the run loop resumes it (after
// retryAt, once the app has drained half of its buffer); c.mu must be
// held. Unsubscribing, rather than dropping what keeps coming, spares the
// server and the network a stream nobody reads.
func (c *Client) pause(sub *Subscription, retryAt time.Time) {
	if (sub.live || sub.reqID != "") && c.conn != nil {
		c.conn.send(encode(&protocol.Frame{Type: protocol.TypeUnsubscribe, ID: c.reqID("p"), Channel: sub.channel}))
		c.log.Debug("heraldclient: subscription paused: the app is not keeping up", "channel", sub.channel, "lastSeq", sub.lastSeq)
	}
	sub.paused, sub.live, sub.reqID, sub.retryAt = true, false, "", retryAt
	c.wakeRun()
}

// resumeDue resubscribes the paused subscriptions that may go on, and
// reports whether any stays paused; c.mu must be held and c.conn set.
func (c *Client) resumeDue(now time.Time) bool {
	waiting := false
	for _, sub := range c.subs {
		if !sub.paused {
			continue
		}
		if now.Before(sub.retryAt) || len(sub.ch) > cap(sub.ch)/2 {
			waiting = true
			continue
		}
		sub.paused = false
		c.sendSubscribe(sub)
	}
	return waiting
}

// handleSubscribed confirms a subscribe; c.mu must be held.
func (c *Client) handleSubscribed(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || sub.reqID == "" || f.ID != sub.reqID {
		return // answers a subscribe that was superseded
	}
	switch {
	case !sub.hasSeq:
		sub.lastSeq, sub.hasSeq = f.Seq, true
	case !f.Recovered && sub.lastSeq != f.Seq:
		// The server did not honour lastSeq and said nothing of a
		// snapshot. Never skip silently: tell the app as if it had.
		c.log.Warn("heraldclient: resubscribe not recovered without snapshot_required", "channel", f.Channel, "lastSeq", sub.lastSeq, "head", f.Seq)
		if !c.snapshot(sub, &SnapshotRequired{Channel: f.Channel, Seq: f.Seq}) {
			return
		}
	}
	sub.reqID, sub.failures, sub.live = "", 0, true
	if sub.receipts {
		c.resendReceipts(sub, f)
	}
	if !sub.confirmed {
		sub.confirmed = true
		close(sub.ready)
	}
}

// handleSnapshotRequired passes the notice to the app and moves lastSeq
// to the head; c.mu must be held.
func (c *Client) handleSnapshotRequired(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || sub.reqID == "" || f.ID != sub.reqID {
		return
	}
	if sub.wantState && f.Entries != nil {
		sub.applyStateSnapshot(f.Seq, f.Entries)
	}
	c.snapshot(sub, &SnapshotRequired{Channel: f.Channel, Seq: f.Seq, OldestSeq: f.OldestSeq})
}

func (c *Client) snapshot(sub *Subscription, n *SnapshotRequired) bool {
	if !c.offer(sub, Message{Channel: n.Channel, Seq: n.Seq, SnapshotRequired: n}) {
		return false
	}
	sub.lastSeq, sub.hasSeq = n.Seq, true
	return true
}

// handleMessage delivers a message frame: duplicates (seq <= lastSeq) are
// dropped, the next seq is delivered, and a gap, which the server's
// ordering rules out, is repaired by resubscribing from lastSeq rather than
// delivered out of order. c.mu must be held.
func (c *Client) handleMessage(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || !sub.live {
		return
	}
	switch {
	case f.Seq <= sub.lastSeq:
	case f.Seq == sub.lastSeq+1:
		if c.offer(sub, messageFromFrame(f)) {
			sub.lastSeq = f.Seq
			if f.Op == protocol.OpState && sub.wantState {
				sub.applyStateWrite(f)
			}
			delete(sub.typists, f.From) // a message ends its sender's typing
		}
	default:
		c.log.Warn("heraldclient: gap in a channel's seqs; resubscribing", "channel", f.Channel, "lastSeq", sub.lastSeq, "seq", f.Seq)
		c.sendSubscribe(sub)
	}
}

// subscribeFailed handles an error frame answering a subscribe; c.mu must
// be held. Transient codes are retried with backoff, others end the
// subscription.
func (c *Client) subscribeFailed(sub *Subscription, e *Error) {
	sub.reqID = ""
	if transient(e.Code) {
		b := backoff{min: c.cfg.BackoffMin, max: c.cfg.BackoffMax, attempt: sub.failures, jitter: randDuration}
		sub.failures++
		c.log.Warn("heraldclient: subscribe failed; retrying", "channel", sub.channel, "err", e)
		c.pause(sub, time.Now().Add(b.next()))
		return
	}
	delete(c.subs, sub.channel)
	c.endSub(sub, e)
}
