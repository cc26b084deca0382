package heraldclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// maintainInterval is how often the run loop looks at deferred work
// (paused subscriptions, publishes waiting to be retried) while there is
// some.
const maintainInterval = 50 * time.Millisecond

// run is the client's run loop, one goroutine per Connect: it connects,
// serves the connection until it ends, and reconnects with backoff until
// the client closes or a close code forbids it. Until the first connection
// is up it reports to Connect through first, and gives up when connectCtx
// ends or the token is refused.
func (c *Client) run(connectCtx context.Context, first chan<- error, runDone chan struct{}) {
	defer close(runDone)
	bo := newBackoff(c.cfg.BackoffMin, c.cfg.BackoffMax)
	var lastErr error
	for {
		ti := c.picker.next()
		cn, err := c.attempt(connectCtx, first != nil, c.picker.list[ti])
		// moveOn: try the next endpoint. A connection that was up and
		// ended moves on, as does an attempt that failed on every
		// transport in turn; one that failed on one transport tries the
		// next transport at the same endpoint.
		moveOn := true
		var fatal *fatalError
		switch {
		case err == nil:
			c.picker.connected(ti)
		case !errors.As(err, &fatal):
			moveOn = c.picker.failed(ti)
		}
		if err == nil {
			start := time.Now()
			err = c.serve(cn, first)
			first = nil
			if time.Since(start) >= c.cfg.BackoffReset {
				bo.reset()
			}
		}
		if c.ctx.Err() != nil {
			// Close: it finishes the client once this loop is gone.
			if first != nil {
				first <- ErrClosed
			}
			return
		}
		if first != nil {
			switch {
			case errors.As(err, &fatal):
				c.giveUp(first, err)
				return
			case connectCtx.Err() != nil:
				c.giveUp(first, fmt.Errorf("heraldclient: connect: %w (last attempt: %v)", context.Cause(connectCtx), err))
				return
			}
		}
		if mustStop(err) {
			if first != nil {
				first <- err
			}
			c.stop(err)
			return
		}
		lastErr = err
		if moveOn {
			c.endpoint = (c.endpoint + 1) % len(c.endpoints)
		}
		c.setState(StateDisconnected, err)
		d := bo.next()
		c.log.Info("heraldclient: disconnected; reconnecting", "err", err, "in", d)
		if !c.sleep(d, connectCtx, first != nil) {
			if c.ctx.Err() != nil {
				if first != nil {
					first <- ErrClosed
				}
				return
			}
			c.giveUp(first, fmt.Errorf("heraldclient: connect: %w (last attempt: %v)", context.Cause(connectCtx), lastErr))
			return
		}
	}
}

// giveUp ends a run loop whose Connect failed: the client stays usable and
// disconnected, and Connect may be called again.
func (c *Client) giveUp(first chan<- error, err error) {
	c.setState(StateDisconnected, err)
	c.mu.Lock()
	c.runDone = nil
	c.mu.Unlock()
	first <- err
}

// sleep waits d, or less if the client closes (or, with connecting set,
// Connect's ctx ends); it reports whether the whole d passed.
func (c *Client) sleep(d time.Duration, connectCtx context.Context, connecting bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var connectDone <-chan struct{}
	if connecting {
		connectDone = connectCtx.Done()
	}
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
	case <-connectDone:
	}
	return false
}

// mustStop reports whether a connection's end forbids reconnecting,
// following the close-code table of PROTOCOL.md §10:
//   - 1000: the server ended the session on purpose; "no, not
//     automatically". The client stops; the app decides what is next.
//   - 1008 (policy): not until the cause is fixed, which a retry won't do.
//   - 4003: the identity may no longer use the connection; a new token
//     from the same provider would most likely be refused again, or worse,
//     silently be another user's.
//
// 4001 is not among them: every attempt asks Token for a fresh token,
// which is exactly what the table asks for. Everything else, including
// codes this client does not know, reconnects with backoff.
func mustStop(err error) bool {
	var ce *CloseError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Code {
	case protocol.CloseNormal, protocol.ClosePolicy, protocol.CloseForbidden:
		return true
	}
	return false
}

// attempt makes one connection attempt over transport tr: token, the
// transport's handshake, auth. While connecting (inside Connect) it also
// ends with connectCtx.
func (c *Client) attempt(connectCtx context.Context, connecting bool, tr Transport) (*conn, error) {
	c.setState(StateConnecting, nil)
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()
	if connecting {
		defer context.AfterFunc(connectCtx, cancel)()
	}
	token, err := c.cfg.Token(ctx)
	if err != nil {
		return nil, &fatalError{fmt.Errorf("heraldclient: token provider: %w", err)}
	}
	cn := newConn(c)
	cn.transport = tr
	var l link
	switch tr {
	case TransportSSE:
		l, err = dialSSE(ctx, cn.ctx, c, c.sseEndpoints[c.endpoint], cn.wakeWriter, cn.touch)
	default:
		l, err = dialWS(ctx, c, c.endpoints[c.endpoint], cn.touch)
	}
	if err != nil {
		cn.cancel()
		return nil, err
	}
	c.mu.Lock()
	cn.authID = c.reqID("a")
	c.mu.Unlock()
	cn.start(l)
	cn.send(encode(&protocol.Frame{Type: protocol.TypeAuth, ID: cn.authID, Token: token}))

	var authErr error
	select {
	case authErr = <-cn.authResult:
	case <-cn.readerDone:
		select {
		case authErr = <-cn.authResult:
		default:
			authErr = cn.err()
			var ce *CloseError
			if errors.As(authErr, &ce) && ce.Code == protocol.CloseAuthFailed {
				authErr = &fatalError{fmt.Errorf("heraldclient: authentication failed: %w", authErr)}
			}
		}
	case <-ctx.Done():
		authErr = fmt.Errorf("heraldclient: no auth_ok: %w", context.Cause(ctx))
	}
	if authErr == nil {
		return cn, nil
	}
	var se *Error
	if errors.As(authErr, &se) {
		authErr = &fatalError{fmt.Errorf("heraldclient: authentication failed: %w", se)}
	}
	cn.shutdown()
	return nil, authErr
}

// serve installs an authenticated connection, resubscribes and resends the
// outbox on it, reports success to a waiting Connect (first, if not nil),
// and runs the connection until it ends; it returns why it ended.
func (c *Client) serve(cn *conn, first chan<- error) error {
	c.mu.Lock()
	c.connGen++
	c.conn, c.connID, c.transport = cn, cn.id, cn.transport
	// Resubscribe each channel from its lastSeq, then resend the unacked
	// publishes; the writer batches them (PROTOCOL.md §12, step 4).
	for _, sub := range c.subs {
		if !sub.paused {
			c.sendSubscribe(sub)
		}
	}
	c.out.sendAll(cn, c.connGen)
	// Requests in flight on the last connection were lost with it;
	// they are queries, so they go again.
	c.resendRequests()
	c.mu.Unlock()
	c.setState(StateConnected, nil)
	c.log.Info("heraldclient: connected", "connectionId", cn.id, "userId", cn.userID, "transport", cn.transport)
	if first != nil {
		first <- nil
	}

	tick := time.NewTicker(maintainInterval)
	defer tick.Stop()
	ticking := c.maintain()
	if !ticking {
		tick.Stop()
	}
	for {
		select {
		case <-cn.readerDone:
			return c.disconnect(cn)
		case <-c.ctx.Done():
			cn.closeGracefully()
			return c.disconnect(cn)
		case <-cn.refresh:
			c.refreshToken(cn)
		case <-c.kick:
			if !ticking {
				tick.Reset(maintainInterval)
				ticking = true
			}
		case <-tick.C:
			if ticking = c.maintain(); !ticking {
				tick.Stop()
			}
		}
	}
}

// maintain resumes paused subscriptions and retries publishes whose delay
// has passed; it reports whether anything is still deferred.
func (c *Client) maintain() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return false
	}
	now := time.Now()
	subs := c.resumeDue(now)
	pubs := c.out.sendDue(c.conn, c.connGen, now)
	return subs || pubs
}

// disconnect tears cn down and leaves the client between connections.
func (c *Client) disconnect(cn *conn) error {
	cn.shutdown()
	c.mu.Lock()
	c.conn = nil
	for _, sub := range c.subs {
		sub.live, sub.reqID = false, ""
	}
	// The server dropped the connection's subscriptions with it.
	for id, w := range c.unsubs {
		delete(c.unsubs, id)
		w <- nil
	}
	c.mu.Unlock()
	return cn.err()
}

// refreshToken answers token_expiring: a new token, sent as auth on the
// same connection, keeps it and its subscriptions alive. If Token fails,
// the server closes with 4001 at expiry and the reconnect asks again.
func (c *Client) refreshToken(cn *conn) {
	ctx, cancel := context.WithTimeout(cn.ctx, c.cfg.DialTimeout)
	defer cancel()
	defer context.AfterFunc(c.ctx, cancel)()
	token, err := c.cfg.Token(ctx)
	if err != nil {
		c.log.Warn("heraldclient: token refresh failed; the server will close at expiry and the client reconnect", "err", err)
		return
	}
	c.mu.Lock()
	cn.refreshID = c.reqID("a")
	id := cn.refreshID
	c.mu.Unlock()
	cn.send(encode(&protocol.Frame{Type: protocol.TypeAuth, ID: id, Token: token}))
}

// wakeRun wakes the run loop to look at deferred work.
func (c *Client) wakeRun() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}
