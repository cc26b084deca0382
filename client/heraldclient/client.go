package heraldclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// Client is a connection to a Herald server that survives network failures:
// it reconnects with backoff, resubscribes every channel from the last seq it
// delivered, and resends unacknowledged publishes. Create one with New, start
// it with Connect, and stop it with Close. All methods may be called from any
// goroutine.
type Client struct {
	cfg        Config
	log        *slog.Logger
	httpClient *http.Client
	// endpoints are URL then FallbackURLs; endpoint is the index of the
	// one to dial next, used by the run loop only.
	endpoints []string
	endpoint  int
	// sseEndpoints are the SSE stream URLs of endpoints, index for index.
	sseEndpoints []string
	// picker chooses each attempt's transport; used by the run loop only.
	picker transportPicker
	// ownTransport is the transport of the HTTP client New made, closed by
	// Close; nil when the caller supplied Config.HTTPClient.
	ownTransport *http.Transport

	// ctx ends when the client closes; every connection attempt derives
	// from it.
	ctx    context.Context
	cancel context.CancelFunc
	// done is closed once the client is closed and everything pending has
	// been failed.
	done chan struct{}

	state atomic.Int32
	// kick wakes the run loop when work was deferred (a paused
	// subscription, a delayed retry); capacity 1.
	kick chan struct{}

	// mu guards the fields below and the guarded fields of every
	// Subscription and conn; Subscription channels are sent to (never
	// blocking) and closed only with it held. Lock order: Client.mu, then
	// conn.mu (which only guards a connection's write queue). Nothing
	// blocks while holding either.
	mu sync.Mutex
	// runDone is closed when the current run loop exits; nil when no run
	// loop is running.
	runDone chan struct{}
	// closed is set by Close or when the client stops for good; err says
	// why (ErrClosed for Close).
	closed   bool
	err      error
	finished bool
	// stateWait is closed and replaced on every state change, to wake
	// Connect calls that wait for StateConnected.
	stateWait chan struct{}
	// conn is the authenticated connection, nil between connections;
	// connGen counts authenticated connections, so that an outbox entry
	// knows whether it was sent on the current one.
	conn    *conn
	connGen uint64
	connID  string
	// transport is the transport of conn, or of the last connection.
	transport Transport
	// subs holds every subscription that has not ended, by channel.
	subs map[string]*Subscription
	// out holds every publish that waits for its ack.
	out outbox
	// unsubs holds the Unsubscribe calls waiting for their reply, by frame
	// id.
	unsubs map[string]chan error
	// reqs holds the requests (History, Presence) waiting for their
	// answer, by frame id.
	reqs map[string]*request
	// nextReq numbers request ids (subscribe, unsubscribe, auth,
	// history, presence).
	nextReq uint64
}

// New returns a client for cfg. It does not connect; call Connect.
// Subscribe and Publish may be called before Connect: their frames are sent
// once the client is connected.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		log:       cfg.Logger,
		done:      make(chan struct{}),
		kick:      make(chan struct{}, 1),
		stateWait: make(chan struct{}),
		subs:      make(map[string]*Subscription),
		unsubs:    make(map[string]chan error),
		reqs:      make(map[string]*request),
	}
	c.out.init()
	c.endpoints = append([]string{cfg.URL}, cfg.FallbackURLs...)
	for i, e := range c.endpoints {
		s := cfg.SSEURL
		if i > 0 || s == "" {
			if s, err = sseEndpoint(e); err != nil {
				return nil, fmt.Errorf("heraldclient: the SSE URL of %q: %w", e, err)
			}
		}
		c.sseEndpoints = append(c.sseEndpoints, s)
	}
	c.picker.list = cfg.Transports
	c.httpClient = cfg.HTTPClient
	if c.httpClient == nil {
		// An own transport, so that Close can close its idle connections
		// and leave no goroutine behind.
		c.ownTransport = http.DefaultTransport.(*http.Transport).Clone()
		c.httpClient = &http.Client{Transport: c.ownTransport}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Connect starts the client and returns once it is authenticated, or with
// an error. It retries failed connection attempts with backoff until ctx
// ends, except when the token provider fails or the server rejects the
// token: then it returns that error at once (a rejection wraps an *Error
// with code unauthorized) and the client stays disconnected; Connect may be
// called again. Once connected, the client reconnects on its own until
// Close; ctx only bounds this call. If the client is already running,
// Connect waits until it is connected.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		return err
	}
	if c.runDone != nil {
		c.mu.Unlock()
		return c.waitConnected(ctx)
	}
	runDone := make(chan struct{})
	c.runDone = runDone
	c.mu.Unlock()

	first := make(chan error, 1)
	go c.run(ctx, first, runDone)
	return <-first
}

// waitConnected waits until the running client is connected or stopped.
func (c *Client) waitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		wait, closed, err, running := c.stateWait, c.closed, c.err, c.runDone != nil
		c.mu.Unlock()
		switch {
		case closed:
			return err
		case c.State() == StateConnected:
			return nil
		case !running:
			return errors.New("heraldclient: connect failed")
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("heraldclient: connect: %w", context.Cause(ctx))
		}
	}
}

// Close stops the client: it closes the connection with 1000, stops
// reconnecting, fails pending Subscribe and Publish calls with ErrClosed
// (a publish without ack may or may not have been stored; retry it with the
// same id, see WithID) and closes every subscription's message channel. It
// returns when all the client's goroutines have exited. Close is
// idempotent; it returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed, c.err = true, ErrClosed
	}
	runDone := c.runDone
	c.mu.Unlock()
	c.cancel()
	if runDone != nil {
		<-runDone
	}
	c.finish()
	return nil
}

// State returns the client's current state.
func (c *Client) State() State { return State(c.state.Load()) }

// ConnectionID returns the server's id of the current connection (from
// auth_ok), or of the last one while disconnected; "" before the first.
func (c *Client) ConnectionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connID
}

// Transport returns the transport of the current connection, or of the
// last one while disconnected; zero before the first connection.
func (c *Client) Transport() Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// Done returns a channel that is closed when the client has stopped for
// good: after Close, or after a close code that forbids reconnecting.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped: nil while it runs, ErrClosed after
// Close, or a *CloseError for a close code that forbids reconnecting
// (1000, 1008, 4003; see the package documentation).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.err
}

// setState records a state change and reports it. Only the run loop and
// finish call it, so reports come in order.
func (c *Client) setState(s State, cause error) {
	old := State(c.state.Swap(int32(s)))
	if old == s {
		return
	}
	c.mu.Lock()
	close(c.stateWait)
	c.stateWait = make(chan struct{})
	c.mu.Unlock()
	if cb := c.cfg.OnStateChange; cb != nil {
		cb(s, cause)
	}
}

// stop ends the client for good because of err (a close code that forbids
// reconnecting). The run loop calls it before it exits.
func (c *Client) stop(err error) {
	c.mu.Lock()
	if !c.closed {
		c.closed, c.err = true, err
	}
	c.mu.Unlock()
	c.cancel()
	c.log.Error("heraldclient: stopped; not reconnecting", "err", err)
	c.finish()
}

// finish fails everything pending with the client's error, once, after the
// run loop has exited.
func (c *Client) finish() {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	err := c.err
	for ch, sub := range c.subs {
		delete(c.subs, ch)
		c.endSub(sub, err)
	}
	c.out.failAll(err)
	for id, w := range c.unsubs {
		delete(c.unsubs, id)
		w <- nil
	}
	c.failRequests(err)
	c.mu.Unlock()
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	c.setState(StateClosed, err)
	close(c.done)
}

// reqID returns a new request id with the prefix; c.mu must be held. Ids
// only need to be unique among a connection's requests in flight; publish
// ids are random and so never collide with these.
func (c *Client) reqID(prefix string) string {
	c.nextReq++
	return prefix + strconv.FormatUint(c.nextReq, 10)
}
