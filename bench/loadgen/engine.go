package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/heraldrt/herald/internal/nbiowarm"
)

// Config configures an Engine. The zero value of each field is its
// documented default.
type Config struct {
	// URL is the server's WebSocket endpoint, ws://host:port/ws: the
	// node clients connect to unless their Spec names another. Required.
	URL string
	// Pollers is the number of event-loop goroutines. Zero means 1: one
	// loop saturates one core, which is all a pinned load generator has.
	Pollers int
	// ConnsPerSource is how many connections share one loopback source
	// address when the server is on loopback. Zero means 1000.
	ConnsPerSource int
	// InFlight bounds the connections Connect has dialed that are not yet
	// subscribed. Zero means 256.
	InFlight int
	// DialTimeout bounds the TCP connect and the WebSocket upgrade. Zero
	// means 10s.
	DialTimeout time.Duration
}

// Engine runs the clients of one load generator on a shared nbio engine.
// Create one with NewEngine and Close it when done.
type Engine struct {
	cfg  Config
	url  *url.URL
	nb   *nbhttp.Engine
	opts *websocket.Options
	// firstSource is the first source address, or nil when the server
	// is not on IPv4 loopback and the kernel should choose.
	firstSource net.IP

	dials atomic.Uint64
	stats engineCounters

	mu      sync.Mutex
	clients map[*Client]struct{} // open clients, closed by Close
	closed  bool
}

// engineCounters are an Engine's counters.
type engineCounters struct {
	frames     atomic.Uint64
	bytes      atomic.Uint64
	slowFrames atomic.Uint64
	pings      atomic.Uint64
}

// EngineStats is a snapshot of an Engine's counters.
type EngineStats struct {
	// Frames and Bytes count the text frames received.
	Frames, Bytes uint64
	// SlowFrames counts frames decoded with encoding/json rather than the
	// fast path; a high count means the load generator is wasting CPU.
	SlowFrames uint64
	// Pings counts WebSocket pings from the server (heartbeats).
	Pings uint64
}

// NewEngine starts an engine for cfg.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Pollers <= 0 {
		cfg.Pollers = 1
	}
	if cfg.ConnsPerSource <= 0 {
		cfg.ConnsPerSource = 1000
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 256
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, url: u, clients: make(map[*Client]struct{})}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		e.firstSource = net.IPv4(127, 0, 0, 2)
	}
	e.nb = nbhttp.NewEngine(nbhttp.Config{
		Name:    "herald-bench",
		NPoller: cfg.Pollers,
		// Client engines have no listener; ReadBufferSize is per poller.
		ReadBufferSize: 64 << 10,
	})
	e.opts = e.newOptions()
	if err := e.nb.Start(); err != nil {
		return nil, fmt.Errorf("loadgen: start event loop: %w", err)
	}
	if err := nbiowarm.WarmUp(e.nb.Engine, cfg.Pollers); err != nil {
		e.nb.Stop()
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	return e, nil
}

// parseURL parses a server's WebSocket URL.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("loadgen: server url: %w", err)
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("loadgen: server url %q: only ws:// is supported", s)
	}
	return u, nil
}

// RouteNBIOLogs sends nbio's logs, which otherwise go to stdout, to log.
// nbio's logger is process-wide.
func RouteNBIOLogs(log *slog.Logger) { logging.SetLogger(nbioLogger{log}) }

// InFlight returns the bound on connections being set up at once.
func (e *Engine) InFlight() int { return e.cfg.InFlight }

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() EngineStats {
	return EngineStats{
		Frames:     e.stats.frames.Load(),
		Bytes:      e.stats.bytes.Load(),
		SlowFrames: e.stats.slowFrames.Load(),
		Pings:      e.stats.pings.Load(),
	}
}

// Connect opens n clients and returns them once every one has
// authenticated and subscribed to its channels. spec(i) gives client i's
// token and channels; it is called on the calling goroutine. progress,
// when not nil, is called with the count of ready clients as they become
// ready (on the event loop, one call at a time, all of them before
// Connect returns: it must be quick). Connect fails on the first
// client that cannot connect or on ctx's end, and then closes the clients
// it opened.
func (e *Engine) Connect(ctx context.Context, n int, spec func(i int) (Spec, error), h Handler, progress func(ready int)) ([]*Client, error) {
	clients := make([]*Client, 0, n)
	sem := make(chan struct{}, e.cfg.InFlight)
	var (
		mu       sync.Mutex
		firstErr error
		ready    int
		started  int
		settled  int
		allDone  = make(chan struct{})
		finished bool
	)
	failed := make(chan struct{})
	settle := func(c *Client, err error) {
		<-sem
		mu.Lock()
		settled++
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("client %d: %w", c.Index, err)
			close(failed)
		}
		if err == nil {
			ready++
			// Under mu, so that every call is over when Connect
			// returns.
			if progress != nil {
				progress(ready)
			}
		}
		if finished && settled == started {
			close(allDone)
		}
		mu.Unlock()
	}
	var loopErr error
loop:
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-failed:
			break loop
		case <-ctx.Done():
			loopErr = ctx.Err()
			break loop
		}
		s, err := spec(i)
		if err != nil {
			<-sem
			loopErr = fmt.Errorf("client %d: %w", i, err)
			break
		}
		c := newClient(e, i, s, h, settle)
		mu.Lock()
		started++
		mu.Unlock()
		clients = append(clients, c)
		e.dial(c)
	}
	mu.Lock()
	finished = true
	if settled == started {
		close(allDone)
	}
	mu.Unlock()
	select {
	case <-allDone:
	case <-ctx.Done():
		if loopErr == nil {
			loopErr = ctx.Err()
		}
	}
	mu.Lock()
	err := firstErr
	mu.Unlock()
	if loopErr != nil {
		err = loopErr
	}
	if err != nil {
		CloseAll(clients)
		return nil, fmt.Errorf("loadgen: connect %d clients (%d ready): %w", n, readyCount(clients), err)
	}
	return clients, nil
}

// Close closes every open client and stops the event loop.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	open := make([]*Client, 0, len(e.clients))
	for c := range e.clients {
		open = append(open, c)
	}
	e.mu.Unlock()
	CloseAll(open)
	e.nb.Stop()
}

// CloseAll closes clients without a close handshake.
func CloseAll(clients []*Client) {
	for _, c := range clients {
		if c != nil {
			c.Abort()
		}
	}
}

// WaitClosed waits until the engine has seen every client of clients end,
// or ctx ends.
func WaitClosed(ctx context.Context, clients []*Client) error {
	for _, c := range clients {
		if c == nil {
			continue
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (e *Engine) track(c *Client) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.clients[c] = struct{}{}
	return true
}

func (e *Engine) untrack(c *Client) {
	e.mu.Lock()
	delete(e.clients, c)
	e.mu.Unlock()
}

// nextSource returns the local address for the next dial: each block of
// ConnsPerSource dials shares one address of 127.0.0.2, 127.0.0.3, ….
func (e *Engine) nextSource() *net.TCPAddr {
	if e.firstSource == nil {
		return nil
	}
	k := uint32(e.dials.Add(1)-1) / uint32(e.cfg.ConnsPerSource)
	b := e.firstSource.To4()
	v := (uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) + k
	v %= 1<<24 - 2 // stay inside 127.0.0.0/8, short of 127.255.255.255
	return &net.TCPAddr{IP: net.IPv4(127, byte(v>>16), byte(v>>8), byte(v))}
}

func readyCount(clients []*Client) int {
	n := 0
	for _, c := range clients {
		if c.state.Load() == stateReady {
			n++
		}
	}
	return n
}

// ErrEngineClosed is returned for clients started after Close.
var ErrEngineClosed = errors.New("loadgen: engine closed")

type nbioLogger struct{ log *slog.Logger }

func (l nbioLogger) Debug(format string, v ...any) {}
func (l nbioLogger) Info(format string, v ...any)  {}
func (l nbioLogger) Warn(format string, v ...any) {
	l.log.Warn("nbio: " + fmt.Sprintf(format, v...))
}
func (l nbioLogger) Error(format string, v ...any) {
	l.log.Error("nbio: " + fmt.Sprintf(format, v...))
}
