package hub

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Hub is the core of a Herald node. Create one with New, then Start it.
type Hub struct {
	cfg    Config
	broker herald.Broker
	auth   herald.Authenticator
	log    *slog.Logger
	clock  herald.Clock

	// Stats are the hub's live counters.
	Stats Stats

	// mu guards channels.
	mu       sync.RWMutex
	channels map[string]*channel

	// sessMu guards sessions.
	sessMu   sync.Mutex
	sessions map[*Session]struct{}

	draining atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	// allGone is signalled when the last session ends while draining.
	allGone chan struct{}
}

// channel is the set of local subscriptions to one channel name.
type channel struct {
	name string
	// ready is closed once the broker subscription is in place; err
	// tells whether it failed.
	ready chan struct{}
	err   error

	// mu guards subs.
	mu   sync.RWMutex
	subs map[*subscription]struct{}
}

// New returns a hub publishing through broker and authenticating with
// auth.
func New(cfg Config, broker herald.Broker, auth herald.Authenticator) *Hub {
	cfg.setDefaults()
	return &Hub{
		cfg:      cfg,
		broker:   broker,
		auth:     auth,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		channels: make(map[string]*channel),
		sessions: make(map[*Session]struct{}),
		stop:     make(chan struct{}),
		allGone:  make(chan struct{}, 1),
	}
}

// Start registers the hub with its broker and starts the sweeper.
func (h *Hub) Start(ctx context.Context) error {
	if err := h.broker.Start(ctx, h); err != nil {
		return err
	}
	h.wg.Add(1)
	go h.sweepLoop()
	return nil
}

// Accepting reports whether the hub takes new sessions; it stops when a
// drain begins.
func (h *Hub) Accepting() bool { return !h.draining.Load() }

// Shutdown drains the hub: it refuses new sessions, closes every session
// with code (1012, service restart, when shutting down; 1001 to send
// clients elsewhere), and waits until they are gone or ctx ends, then cuts
// what remains. The broker is not closed; its owner closes it afterwards.
func (h *Hub) Shutdown(ctx context.Context, code int) error {
	h.draining.Store(true)
	for _, s := range h.sessionList() {
		s.close(code, protocol.CloseCodes[code])
	}
	var err error
	for h.sessionCount() > 0 && err == nil {
		select {
		case <-h.allGone:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	for _, s := range h.sessionList() {
		s.abort()
	}
	h.stopOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
	return err
}

// HandlePublications implements herald.EventHandler: it encodes each
// publication once and queues the frame on every local subscriber, then
// flushes each session it touched once.
func (h *Hub) HandlePublications(name string, pubs []*herald.Publication) {
	h.mu.RLock()
	c := h.channels[name]
	h.mu.RUnlock()
	if c == nil {
		return
	}
	frames := make([]*Frame, len(pubs))
	for i, p := range pubs {
		frames[i] = encodePublication(name, p)
	}
	dirty := dirtyPool.Get().(*[]*Session)
	c.mu.RLock()
	for sub := range c.subs {
		if sub.deliver(frames) {
			*dirty = append(*dirty, sub.sess)
		}
	}
	c.mu.RUnlock()
	for i, s := range *dirty {
		s.flush()
		(*dirty)[i] = nil
	}
	*dirty = (*dirty)[:0]
	dirtyPool.Put(dirty)
	now := h.clock.Now()
	for _, p := range pubs {
		h.Stats.DeliveryLatency.Observe(now.Sub(time.UnixMilli(p.Time)))
	}
}

var dirtyPool = sync.Pool{New: func() any { s := make([]*Session, 0, 64); return &s }}

func encodePublication(channel string, p *herald.Publication) *Frame {
	m := protocol.Message{
		Channel: channel, Seq: p.Seq, ID: p.ID, Event: p.Event,
		Payload: p.Payload, Timestamp: p.Time, From: p.From,
	}
	n := 96 + len(channel) + len(p.ID) + len(p.Event) + len(p.From) + len(p.Payload)
	return &Frame{JSON: protocol.AppendMessage(make([]byte, 0, n), &m), seq: p.Seq}
}

// join adds sub to its channel, subscribing the broker when the channel is
// new here, and waits until the broker subscription is in place.
func (h *Hub) join(ctx context.Context, sub *subscription) error {
	h.mu.Lock()
	c, ok := h.channels[sub.channel]
	if !ok {
		c = &channel{name: sub.channel, ready: make(chan struct{}), subs: make(map[*subscription]struct{})}
		h.channels[sub.channel] = c
	}
	c.mu.Lock()
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	h.mu.Unlock()
	if !ok {
		h.Stats.Channels.Add(1)
		c.err = h.broker.Subscribe(ctx, sub.channel)
		close(c.ready)
	}
	<-c.ready
	if c.err != nil {
		h.leave(sub)
		return c.err
	}
	h.Stats.Subscriptions.Add(1)
	return nil
}

// leave removes sub from its channel, unsubscribing the broker when it was
// the channel's last local subscriber.
func (h *Hub) leave(sub *subscription) {
	h.mu.Lock()
	c := h.channels[sub.channel]
	if c == nil {
		h.mu.Unlock()
		return
	}
	c.mu.Lock()
	_, was := c.subs[sub]
	delete(c.subs, sub)
	empty := len(c.subs) == 0
	c.mu.Unlock()
	if empty {
		delete(h.channels, sub.channel)
	}
	h.mu.Unlock()
	if was && c.err == nil {
		h.Stats.Subscriptions.Add(-1)
	}
	if empty {
		h.Stats.Channels.Add(-1)
		go func() {
			<-c.ready
			if c.err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := h.broker.Unsubscribe(ctx, c.name); err != nil && !errors.Is(err, herald.ErrClosed) {
				h.log.Warn("broker unsubscribe failed", "channel", c.name, "err", err)
			}
		}()
	}
}

func (h *Hub) addSession(s *Session) {
	h.sessMu.Lock()
	h.sessions[s] = struct{}{}
	h.sessMu.Unlock()
	h.Stats.Connections.Add(1)
	h.Stats.ConnectionsTotal.Add(1)
}

func (h *Hub) removeSession(s *Session) {
	h.sessMu.Lock()
	_, ok := h.sessions[s]
	delete(h.sessions, s)
	left := len(h.sessions)
	h.sessMu.Unlock()
	if !ok {
		return
	}
	h.Stats.Connections.Add(-1)
	if left == 0 && h.draining.Load() {
		select {
		case h.allGone <- struct{}{}:
		default:
		}
	}
}

func (h *Hub) sessionList() []*Session {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	out := make([]*Session, 0, len(h.sessions))
	for s := range h.sessions {
		out = append(out, s)
	}
	return out
}

func (h *Hub) sessionCount() int {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	return len(h.sessions)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newConnectionID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

var _ herald.EventHandler = (*Hub)(nil)
