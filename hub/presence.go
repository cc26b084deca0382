package hub

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// presenceTimeout bounds one presence write to the broker.
const presenceTimeout = 5 * time.Second

// sharedPresence returns the broker's presence store, or nil when the
// broker keeps none (one node: the hub's own subscriptions are the
// presence).
func (h *Hub) sharedPresence() herald.PresenceBroker {
	p, _ := h.broker.(herald.PresenceBroker)
	return p
}

// addPresence records the session in channel's shared presence, for
// namespaces with presence on. It runs on the session's handler
// goroutine, before subscribed is sent, so that an unsubscribe that
// follows is ordered after it.
func (s *Session) addPresence(id *herald.Identity, channel string) {
	h := s.hub
	p := h.sharedPresence()
	if p == nil || h.cfg.Namespaces.Lookup(channel).NoPresence {
		return
	}
	ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
	defer cancel()
	e := herald.PresenceEntry{ConnectionID: s.ID(), UserID: id.UserID, Info: id.Info}
	if err := p.AddPresence(ctx, channel, e); err != nil && !errors.Is(err, herald.ErrClosed) {
		h.log.Warn("presence add failed", "channel", channel, "err", err)
	}
}

// removePresence takes the session out of the shared presence of
// channels.
func (s *Session) removePresence(channels ...string) {
	h := s.hub
	p := h.sharedPresence()
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	for _, ch := range channels {
		if h.cfg.Namespaces.Lookup(ch).NoPresence {
			continue
		}
		if err := p.RemovePresence(ctx, ch, s.ID()); err != nil && !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("presence remove failed", "channel", ch, "err", err)
		}
	}
}

// PresenceMember is one user subscribed to a channel.
type PresenceMember struct {
	UserID string `json:"userId"`
	// Connections counts the user's subscribed connections.
	Connections int             `json:"connections"`
	Info        json.RawMessage `json:"info,omitempty"`
}

// Presence lists the users subscribed to channel, by user id: on every
// node when the broker shares presence, else on this node. A namespace
// with presence off answers forbidden.
func (h *Hub) Presence(ctx context.Context, channel string) ([]PresenceMember, error) {
	if !protocol.ValidChannel(channel) {
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Message: "invalid channel name"}
	}
	if Reserved(channel) {
		return nil, errReserved
	}
	if h.cfg.Namespaces.Lookup(channel).NoPresence {
		return nil, &protocol.Error{Code: protocol.CodeForbidden, Message: "presence is off for this namespace"}
	}
	byUser := map[string]*PresenceMember{}
	add := func(user string, info json.RawMessage) {
		m := byUser[user]
		if m == nil {
			m = &PresenceMember{UserID: user, Info: info}
			byUser[user] = m
		}
		m.Connections++
	}
	if p := h.sharedPresence(); p != nil {
		entries, err := p.Presence(ctx, channel)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			add(e.UserID, e.Info)
		}
	} else {
		h.localPresence(channel, add)
	}
	out := make([]PresenceMember, 0, len(byUser))
	for _, m := range byUser {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out, nil
}

// localPresence calls add for each live, authenticated subscription of
// channel on this node.
func (h *Hub) localPresence(channel string, add func(user string, info json.RawMessage)) {
	h.mu.RLock()
	c := h.channels[channel]
	h.mu.RUnlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sub := range c.subs {
		s := sub.sess
		s.mu.Lock()
		id := s.identity
		live := !s.closed && !sub.removed()
		s.mu.Unlock()
		if id != nil && live {
			add(id.UserID, id.Info)
		}
	}
}
