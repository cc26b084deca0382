package hub

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Presence events. Every node tells the others, with an ephemeral message
// on the channel, when one of its connections joins or leaves a channel
// (a delta per connection). A node with local subscriptions that watch a
// channel's presence keeps a view of it, by user, seeded from the
// channel's presence and kept current by the deltas; every
// PresenceInterval it sends each watcher one presence_diff of the users
// who came and went (a user with another device still there has not
// gone). Deltas are best effort, so each view is also resynced from the
// channel's presence every PresenceResync: that is what drops the members
// of a node that died.

// ephemeral is one ephemeral message between nodes.
type ephemeral struct {
	Kind string          `json:"k"`
	Conn string          `json:"c,omitempty"`
	User string          `json:"u,omitempty"`
	Info json.RawMessage `json:"i,omitempty"`
	// Delivered and Read are the positions of a receipts message.
	Delivered map[string]uint64 `json:"d,omitempty"`
	Read      map[string]uint64 `json:"r,omitempty"`
	// Status is a status message's user status.
	Status *protocol.UserStatus `json:"s,omitempty"`
}

// Kinds of ephemeral messages.
const (
	ephJoin     = "join"
	ephLeave    = "leave"
	ephTyping   = "typing"
	ephReceipts = "receipts"
	ephStatus   = "status"
)

// broadcast sends e to every node subscribed to channel, this one
// included. Without a Broadcaster the hub is the only node.
func (h *Hub) broadcast(ctx context.Context, channel string, e *ephemeral) {
	data, err := json.Marshal(e)
	if err != nil {
		h.log.Error("encoding an ephemeral message failed", "err", err)
		return
	}
	b, ok := h.broker.(herald.Broadcaster)
	if !ok {
		h.HandleEphemeral(channel, data)
		return
	}
	if err := b.Broadcast(ctx, channel, data); err != nil && ctx.Err() == nil && !errors.Is(err, herald.ErrClosed) {
		h.log.Warn("ephemeral broadcast failed", "channel", channel, "kind", e.Kind, "err", err)
	}
}

// HandleEphemeral implements herald.EphemeralHandler.
func (h *Hub) HandleEphemeral(name string, data []byte) {
	switch {
	case name == ControlChannel:
		h.handleControlMessage(data)
		return
	case strings.HasPrefix(name, ReplyPrefix):
		h.handleReply(data)
		return
	}
	var e ephemeral
	if err := json.Unmarshal(data, &e); err != nil {
		h.log.Warn("malformed ephemeral message", "channel", name, "err", err)
		return
	}
	c := h.channel(name)
	if c == nil {
		return
	}
	switch e.Kind {
	case ephJoin, ephLeave:
		if e.Conn == "" || (e.Kind == ephJoin && e.User == "") {
			return
		}
		if v := c.view.Load(); v != nil && v.apply(&e) {
			h.markPresenceDirty(c)
		}
	case ephTyping:
		if e.User != "" {
			h.deliverTyping(c, e.User)
		}
	case ephStatus:
		if e.Status != nil && e.Status.UserID != "" {
			h.deliverStatus(c, e.Status)
		}
	case ephReceipts:
		if len(e.Delivered)+len(e.Read) > 0 {
			h.deliverReceipts(c, e.Delivered, e.Read)
		}
	}
}

// presenceView is a node's picture of one channel's presence, by user.
type presenceView struct {
	// ready is closed once the view is seeded.
	ready chan struct{}

	mu     sync.Mutex
	seeded bool
	// early holds deltas that arrived before the seed.
	early []ephemeral
	// conns maps each present connection to its user.
	conns map[string]string
	users map[string]*protocol.PresenceMember
	// touched records, for each user whose presence changed since the
	// last diff, whether the user was present then.
	touched map[string]bool
	// gone records connections that left, with when, so that a resync
	// whose read raced with the leave does not bring them back.
	gone map[string]time.Time
	// sentCount is the count the last diff or state told; listed says
	// whether watchers were last sent members (the channel was small).
	sentCount int
	listed    bool
	// watchers counts the local subscriptions that watch the view.
	watchers atomic.Int32
	// stateJSON is the presence_state of the view as it is, or nil; it
	// is shared by the sessions that queue it and never modified.
	stateJSON []byte
}

func newPresenceView() *presenceView {
	return &presenceView{
		ready:   make(chan struct{}),
		conns:   make(map[string]string),
		users:   make(map[string]*protocol.PresenceMember),
		touched: make(map[string]bool),
		gone:    make(map[string]time.Time),
	}
}

// apply applies a delta and reports whether the view changed.
func (v *presenceView) apply(e *ephemeral) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.seeded {
		if len(v.early) < maxEarlyDeltas {
			v.early = append(v.early, *e)
		}
		return false
	}
	return v.applyLocked(e, time.Now())
}

// maxEarlyDeltas bounds the deltas kept while a view is seeded; past it
// the resync repairs what was dropped.
const maxEarlyDeltas = 10000

func (v *presenceView) applyLocked(e *ephemeral, now time.Time) bool {
	changed := v.applyDelta(e, now)
	if changed {
		v.stateJSON = nil
	}
	return changed
}

func (v *presenceView) applyDelta(e *ephemeral, now time.Time) bool {
	switch e.Kind {
	case ephJoin:
		if _, ok := v.conns[e.Conn]; ok {
			return false
		}
		delete(v.gone, e.Conn)
		v.conns[e.Conn] = e.User
		m := v.users[e.User]
		if m == nil {
			v.touch(e.User, false)
			m = &protocol.PresenceMember{UserID: e.User, Info: e.Info}
			v.users[e.User] = m
		}
		m.Connections++
		return true
	case ephLeave:
		v.gone[e.Conn] = now
		user, ok := v.conns[e.Conn]
		if !ok {
			return false
		}
		delete(v.conns, e.Conn)
		if m := v.users[user]; m != nil {
			if m.Connections--; m.Connections <= 0 {
				v.touch(user, true)
				delete(v.users, user)
			}
		}
		return true
	}
	return false
}

func (v *presenceView) touch(user string, present bool) {
	if _, ok := v.touched[user]; !ok {
		v.touched[user] = present
	}
}

// sync makes the view match entries, read from the channel's presence
// when the read began at start: connections that left after start stay
// gone, connections that joined after start stay. It reports whether the
// view changed.
func (v *presenceView) sync(entries []herald.PresenceEntry, start time.Time, known map[string]bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := time.Now()
	changed := false
	read := make(map[string]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		read[e.ConnectionID] = true
		if at, ok := v.gone[e.ConnectionID]; ok && !at.Before(start) {
			continue
		}
		if v.applyLocked(&ephemeral{Kind: ephJoin, Conn: e.ConnectionID, User: e.UserID, Info: e.Info}, now) {
			changed = true
		}
	}
	// Remove only what was there before the read and is missing from it.
	for conn := range known {
		if !read[conn] {
			if _, ok := v.conns[conn]; ok {
				changed = v.applyLocked(&ephemeral{Kind: ephLeave, Conn: conn}, now) || changed
			}
		}
	}
	return changed
}

// forget drops the record of connections that left before t.
func (v *presenceView) forget(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for conn, at := range v.gone {
		if at.Before(t) {
			delete(v.gone, conn)
		}
	}
}

// knownConns returns the view's connections.
func (v *presenceView) knownConns() map[string]bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := make(map[string]bool, len(v.conns))
	for c := range v.conns {
		m[c] = true
	}
	return m
}

// seed fills a new view from entries and applies what came meanwhile.
func (v *presenceView) seed(entries []herald.PresenceEntry) {
	v.mu.Lock()
	now := time.Now()
	for i := range entries {
		e := &entries[i]
		v.applyLocked(&ephemeral{Kind: ephJoin, Conn: e.ConnectionID, User: e.UserID, Info: e.Info}, now)
	}
	for i := range v.early {
		v.applyLocked(&v.early[i], now)
	}
	v.early = nil
	// Watchers start from a presence_state of this; nothing is news.
	clear(v.touched)
	v.seeded = true
	v.mu.Unlock()
	close(v.ready)
}

// members returns the present users sorted by id, or nil with the count
// when there are more than max; v.mu must be held.
func (v *presenceView) membersLocked(max int) (int, []protocol.PresenceMember) {
	n := len(v.users)
	if n > max {
		return n, nil
	}
	out := make([]protocol.PresenceMember, 0, n)
	for _, m := range v.users {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return n, out
}

// state encodes the presence_state a new watcher starts from.
// The encoding is kept until the view changes: in a big channel many
// watchers join between two changes, and sorting its members for each
// was most of the cost of a join.
func (v *presenceView) state(channel string, max int) []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stateJSON == nil {
		n, members := v.membersLocked(max)
		v.stateJSON = protocol.AppendPresenceState(nil, "", channel, n, members)
	}
	return v.stateJSON
}

// diff encodes what watchers need to hear since the last call, or nil.
func (v *presenceView) diff(channel string, max int) []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.users)
	defer func() {
		clear(v.touched)
		v.sentCount = n
		v.listed = n <= max
	}()
	switch {
	case n > max:
		if n == v.sentCount && !v.listed {
			return nil
		}
		return protocol.AppendPresenceDiff(nil, channel, n, nil, nil)
	case !v.listed && v.sentCount > max:
		// Small enough to list again: watchers need everyone.
		_, members := v.membersLocked(max)
		return protocol.AppendPresenceState(nil, "", channel, n, members)
	}
	var joins []protocol.PresenceMember
	var leaves []string
	for user, was := range v.touched {
		m, now := v.users[user]
		switch {
		case now && !was:
			joins = append(joins, *m)
		case !now && was:
			leaves = append(leaves, user)
		}
	}
	if len(joins) == 0 && len(leaves) == 0 && n == v.sentCount {
		return nil
	}
	sort.Slice(joins, func(i, j int) bool { return joins[i].UserID < joins[j].UserID })
	sort.Strings(leaves)
	return protocol.AppendPresenceDiff(nil, channel, n, joins, leaves)
}

// watchPresence returns channel's view, made and seeded if new. The
// channel must have a local subscription (the caller's).
func (h *Hub) watchPresence(ctx context.Context, name string) *presenceView {
	c := h.channel(name)
	if c == nil {
		return nil
	}
	v := c.view.Load()
	if v == nil {
		nv := newPresenceView()
		if c.view.CompareAndSwap(nil, nv) {
			entries, err := h.presenceEntries(ctx, c.name)
			if err != nil {
				h.log.Warn("reading presence failed; the view is resynced later", "channel", name, "err", err)
			}
			nv.seed(entries)
			return nv
		}
		v = c.view.Load()
	}
	select {
	case <-v.ready:
	case <-ctx.Done():
	}
	return v
}

// presenceEntries reads the channel's presence by connection: from the
// broker when it is shared, else from the local subscriptions (live and
// authenticated).
func (h *Hub) presenceEntries(ctx context.Context, name string) ([]herald.PresenceEntry, error) {
	if p := h.sharedPresence(); p != nil {
		return p.Presence(ctx, name)
	}
	c := h.channel(name)
	if c == nil {
		return nil, nil
	}
	var out []herald.PresenceEntry
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sub := range c.subs {
		s := sub.sess
		s.mu.Lock()
		id := s.identity
		live := !s.closed && !sub.removed()
		s.mu.Unlock()
		if id != nil && live {
			out = append(out, herald.PresenceEntry{ConnectionID: s.ID(), UserID: id.UserID, Info: id.Info})
		}
	}
	return out, nil
}

// markPresenceDirty queues c for the next presence flush.
func (h *Hub) markPresenceDirty(c *channel) {
	h.presMu.Lock()
	h.presDirty[c] = struct{}{}
	h.presMu.Unlock()
}

// presenceLoop sends the diffs of changed views every PresenceInterval
// and resyncs the watched views every PresenceResync.
func (h *Hub) presenceLoop() {
	defer h.wg.Done()
	flush := time.NewTicker(h.cfg.PresenceInterval)
	defer flush.Stop()
	resync := time.NewTicker(h.cfg.PresenceResync)
	defer resync.Stop()
	resyncing := make(chan struct{}, 1)
	for {
		select {
		case <-h.stop:
			return
		case <-flush.C:
			h.flushPresence()
		case <-resync.C:
			select {
			case resyncing <- struct{}{}:
				// Counted in wg (this loop's count keeps it above zero),
				// so that Shutdown waits for it.
				h.wg.Add(1)
				go func() {
					defer h.wg.Done()
					defer func() { <-resyncing }()
					h.resyncPresence()
					h.resyncStatus()
				}()
			default: // the last one is still running
			}
		}
	}
}

// flushPresence sends each changed view's diff to its watchers.
func (h *Hub) flushPresence() {
	h.presMu.Lock()
	dirty := h.presDirty
	if len(dirty) == 0 {
		h.presMu.Unlock()
		return
	}
	h.presDirty = make(map[*channel]struct{})
	h.presMu.Unlock()
	for c := range dirty {
		v := c.view.Load()
		if v == nil || v.watchers.Load() == 0 {
			continue
		}
		if js := v.diff(c.name, h.cfg.PresenceMaxMembers); js != nil {
			n := h.deliverTo(c, &Frame{JSON: js}, func(sub *subscription) bool { return sub.watching })
			h.Stats.PresenceFrames.Add(uint64(n))
		}
	}
}

// resyncPresence makes every watched view match the channel's presence.
func (h *Hub) resyncPresence() {
	h.mu.RLock()
	var chans []*channel
	for _, c := range h.channels {
		v := c.view.Load()
		switch {
		case v == nil:
		case v.watchers.Load() > 0:
			chans = append(chans, c)
		default:
			v.forget(time.Now().Add(-h.cfg.PresenceResync))
		}
	}
	h.mu.RUnlock()
	for _, c := range chans {
		select {
		case <-h.stop:
			return
		default:
		}
		v := c.view.Load()
		known := v.knownConns()
		start := time.Now()
		ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
		entries, err := h.presenceEntries(ctx, c.name)
		cancel()
		if err != nil {
			h.log.Warn("presence resync failed", "channel", c.name, "err", err)
			continue
		}
		if v.sync(entries, start, known) {
			h.markPresenceDirty(c)
		}
		v.forget(start)
	}
}

// deliverTo queues f on the channel's subscriptions that want it,
// flushes their sessions and returns how many it reached. want is called
// with the subscription's session locked.
func (h *Hub) deliverTo(c *channel, f *Frame, want func(*subscription) bool) int {
	var dirty []*Session
	c.mu.Lock()
	for _, sub := range c.subs {
		s := sub.sess
		s.mu.Lock()
		if !s.closed && !sub.removed() && want(sub) {
			s.out = append(s.out, f)
			dirty = append(dirty, s)
		}
		s.mu.Unlock()
	}
	c.mu.Unlock()
	for _, s := range dirty {
		s.flush()
	}
	return len(dirty)
}
