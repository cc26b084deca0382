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
	// presenceWG counts the goroutines that take ended sessions out of
	// the broker's presence.
	presenceWG sync.WaitGroup
	auth       herald.Authenticator
	log        *slog.Logger
	clock      herald.Clock

	// Stats are the hub's live counters.
	Stats Stats

	// mu guards channels.
	mu       sync.RWMutex
	channels map[string]*channel

	// idPrefix and nextNum make connection ids: unique per hub, and
	// across hubs but for a one-in-a-trillion chance.
	idPrefix string
	nextNum  atomic.Uint64

	// sessMu guards sessions and each session's slot in it. A slice with
	// slots costs a word per session where a map costs several.
	sessMu   sync.Mutex
	sessions []*Session
	// users counts each user's authenticated connections.
	users map[string]int32

	draining atomic.Bool
	// life ends when the hub shuts down; hook decisions derive from it so
	// that a drain does not wait on the app backend.
	life     context.Context
	endLife  context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	// allGone is signalled when the last session ends while draining.
	allGone chan struct{}

	// presMu guards presDirty, the channels whose presence view changed
	// since the last flush.
	presMu    sync.Mutex
	presDirty map[*channel]struct{}
	// typingMu guards typingLast: when each user last typed in each
	// channel, for the throttle.
	typingMu   sync.Mutex
	typingLast map[typingKey]time.Time
	// rcptMu guards rcptPending: the receipt positions reported since
	// the last flush.
	rcptMu      sync.Mutex
	rcptPending map[receiptKey]*positions

	// queries are the cluster queries waiting for answers.
	queries queryTable
}

// channel is the set of local subscriptions to one channel name. Most
// channels of a phone app (each user's own) have one subscriber, so the
// set is a slice: small when small, and quick to walk when large.
type channel struct {
	name string
	// join is the broker subscription in progress or done; it outlives
	// the join only when the join failed (Hub.mu guards the pointer).
	join *joinState

	// mu guards subs and each subscription's idx. The fan-out of a
	// channel runs on one goroutine at a time, so a plain mutex serves.
	mu   sync.Mutex
	subs []*subscription

	// view is the channel's presence view, made when a local
	// subscription first watches presence.
	view atomic.Pointer[presenceView]
	// status is the last user status delivered, for status channels.
	status atomic.Pointer[protocol.UserStatus]
}

// joinState is a channel's broker subscription while it is being made.
type joinState struct {
	done sync.WaitGroup
	err  error
}

// New returns a hub publishing through broker and authenticating with
// auth.
func New(cfg Config, broker herald.Broker, auth herald.Authenticator) *Hub {
	cfg.setDefaults()
	life, endLife := context.WithCancel(context.Background())
	return &Hub{
		life:     life,
		endLife:  endLife,
		cfg:      cfg,
		broker:   broker,
		auth:     auth,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		idPrefix: newIDPrefix(),
		channels: make(map[string]*channel),
		users:    make(map[string]int32),
		stop:     make(chan struct{}),
		allGone:  make(chan struct{}, 1),

		presDirty:  make(map[*channel]struct{}),
		typingLast: make(map[typingKey]time.Time),

		rcptPending: make(map[receiptKey]*positions),
	}
}

// Start registers the hub with its broker and starts the sweeper.
func (h *Hub) Start(ctx context.Context) error {
	if err := h.broker.Start(ctx, h); err != nil {
		return err
	}
	if err := h.startControl(ctx); err != nil {
		return err
	}
	if err := h.startNodes(ctx); err != nil {
		return err
	}
	h.wg.Add(3)
	go h.sweepLoop()
	go h.presenceLoop()
	go h.receiptLoop()
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
	h.endLife()
	if p := h.sharedPresence(); p != nil {
		// The node's users stop counting everywhere at once; they are
		// about to reconnect to other nodes.
		if err := p.DropPresence(ctx); err != nil && !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("dropping the node's presence failed; it lapses with the lease", "err", err)
		}
	}
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
	h.presenceWG.Wait()
	h.stopOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
	return err
}

// HandlePublications implements herald.EventHandler: it encodes each
// publication once and queues the frame on every local subscriber, then
// flushes each session it touched once.
func (h *Hub) HandlePublications(name string, pubs []*herald.Publication) {
	if name == ControlChannel {
		h.handleControl(pubs)
		return
	}
	c := h.channel(name)
	if c == nil {
		return
	}
	frames := make([]*Frame, len(pubs))
	for i, p := range pubs {
		frames[i] = encodePublication(name, p)
	}
	dirty := dirtyPool.Get().(*[]*Session)
	c.mu.Lock()
	for _, sub := range c.subs {
		if sub.deliver(frames) {
			*dirty = append(*dirty, sub.sess)
		}
	}
	c.mu.Unlock()
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

// channel returns the channel of that name with local subscriptions, or
// nil.
func (h *Hub) channel(name string) *channel {
	h.mu.RLock()
	c := h.channels[name]
	h.mu.RUnlock()
	return c
}

var dirtyPool = sync.Pool{New: func() any { s := make([]*Session, 0, 64); return &s }}

// encodePublication encodes a live publication: an op entry is sent as
// it is, for the client to apply.
func encodePublication(channel string, p *herald.Publication) *Frame {
	return encodeMessage(channel, Message{Publication: p})
}

// encodeMessage encodes a message frame.
func encodeMessage(channel string, m Message) *Frame {
	w := m.Protocol(channel)
	n := len(channel) + messageSize(m)
	return &Frame{JSON: protocol.AppendMessage(make([]byte, 0, n), &w), seq: m.Seq}
}

// join adds sub to its channel, subscribing the broker when the channel is
// new here, and waits until the broker subscription is in place.
func (h *Hub) join(ctx context.Context, sub *subscription) error {
	h.mu.Lock()
	c, ok := h.channels[sub.channel]
	if !ok {
		c = &channel{name: sub.channel, join: &joinState{}}
		c.join.done.Add(1)
		h.channels[sub.channel] = c
	}
	c.mu.Lock()
	sub.idx = int32(len(c.subs))
	c.subs = append(c.subs, sub)
	c.mu.Unlock()
	js := c.join
	h.mu.Unlock()
	if !ok {
		h.Stats.Channels.Add(1)
		js.err = h.broker.Subscribe(ctx, sub.channel)
		if js.err == nil {
			h.mu.Lock()
			c.join = nil
			h.mu.Unlock()
		}
		js.done.Done()
	}
	if js != nil {
		js.done.Wait()
		if js.err != nil {
			h.leave(sub)
			return js.err
		}
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
	was := int(sub.idx) < len(c.subs) && c.subs[sub.idx] == sub
	if was {
		c.subs = swapRemove(c.subs, int(sub.idx), func(m *subscription, i int) { m.idx = int32(i) })
	}
	empty := len(c.subs) == 0
	c.mu.Unlock()
	if empty {
		delete(h.channels, sub.channel)
	}
	js := c.join
	h.mu.Unlock()
	if was && (js == nil || js.err == nil) {
		h.Stats.Subscriptions.Add(-1)
	}
	if empty {
		h.Stats.Channels.Add(-1)
		go func() {
			if js != nil {
				js.done.Wait()
				if js.err != nil {
					return
				}
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
	s.slot = int32(len(h.sessions))
	h.sessions = append(h.sessions, s)
	h.sessMu.Unlock()
	h.Stats.Connections.Add(1)
	h.Stats.ConnectionsTotal.Add(1)
}

func (h *Hub) removeSession(s *Session) {
	h.sessMu.Lock()
	ok := int(s.slot) < len(h.sessions) && h.sessions[s.slot] == s
	if ok {
		h.sessions = swapRemove(h.sessions, int(s.slot), func(m *Session, i int) { m.slot = int32(i) })
	}
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
	return append([]*Session(nil), h.sessions...)
}

func (h *Hub) sessionCount() int {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	return len(h.sessions)
}

// swapRemove removes s[i] by moving the last element into its place, and
// tells moved where that element went, for slices whose elements know
// their index.
func swapRemove[T any](s []T, i int, moved func(T, int)) []T {
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		moved(s[i], i)
	}
	var zero T
	s[last] = zero
	return s[:last]
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newIDPrefix returns 40 random bits, base32, and a dash.
func newIDPrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:]) + "-"
}

var (
	_ herald.EventHandler     = (*Hub)(nil)
	_ herald.EphemeralHandler = (*Hub)(nil)
)
