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

var errNoPresence = &protocol.Error{Code: protocol.CodeForbidden, Message: "presence is off for this namespace"}

// addPresence records the session in channel's shared presence, for
// namespaces with presence on, and tells the channel's nodes. It runs on
// the session's handler goroutine, before subscribed is sent, so that an
// unsubscribe that follows is ordered after it.
func (s *Session) addPresence(id *herald.Identity, channel string) {
	h := s.hub
	if h.cfg.Namespaces.Lookup(channel).NoPresence {
		return
	}
	ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
	defer cancel()
	if p := h.sharedPresence(); p != nil {
		e := herald.PresenceEntry{ConnectionID: s.ID(), UserID: id.UserID, Info: id.Info}
		if err := p.AddPresence(ctx, channel, e); err != nil && !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("presence add failed", "channel", channel, "err", err)
		}
	}
	h.broadcast(ctx, channel, &ephemeral{Kind: ephJoin, Conn: s.ID(), User: id.UserID, Info: id.Info})
}

// removePresence takes the session out of the presence of channels and
// tells their nodes. A draining node has dropped its shared presence at
// once (its lease): removing entries one by one, for every connection at
// once, could outlast the drain.
func (s *Session) removePresence(channels ...string) {
	h := s.hub
	p := h.sharedPresence()
	if h.draining.Load() {
		p = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	user := ""
	if id := s.currentIdentity(); id != nil {
		user = id.UserID
	}
	for _, ch := range channels {
		if h.cfg.Namespaces.Lookup(ch).NoPresence {
			continue
		}
		if p != nil {
			if err := p.RemovePresence(ctx, ch, s.ID()); err != nil && !errors.Is(err, herald.ErrClosed) {
				h.log.Warn("presence remove failed", "channel", ch, "err", err)
			}
		}
		h.broadcast(ctx, ch, &ephemeral{Kind: ephLeave, Conn: s.ID(), User: user})
	}
}

// PresenceMember is one user subscribed to a channel.
type PresenceMember = protocol.PresenceMember

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
		return nil, errNoPresence
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
	entries, err := h.presenceEntries(ctx, channel)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		add(e.UserID, e.Info)
	}
	out := make([]PresenceMember, 0, len(byUser))
	for _, m := range byUser {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out, nil
}

// presenceQuery answers a presence frame with the channel's
// presence_state: its members, or their count only in a channel over
// PresenceMaxMembers. Asking needs the right to subscribe.
func (s *Session) presenceQuery(id *herald.Identity, f *protocol.Frame) {
	h := s.hub
	if perr := s.admitSubscribe(id, f.Channel); perr != nil {
		s.sendError(perr, f.ID, f.Channel)
		return
	}
	ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
	members, err := h.Presence(ctx, f.Channel)
	cancel()
	if err != nil {
		s.sendError(asProtocolError(err), f.ID, f.Channel)
		return
	}
	n := len(members)
	if n > h.cfg.PresenceMaxMembers {
		members = nil
	} else if members == nil {
		members = []PresenceMember{}
	}
	s.send(protocol.AppendPresenceState(nil, f.ID, f.Channel, n, members))
}
