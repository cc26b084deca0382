package hub

import (
	"context"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// typing handles a typing frame: the user tells the channel's other
// subscribers that they are typing. Typing notices are ephemeral: never
// stored, never replayed. A user's notices to one channel are passed on
// at most once per TypingInterval; the others are dropped without an
// error, as a client sends one per keystroke or so.
func (s *Session) typing(id *herald.Identity, f *protocol.Frame) {
	h := s.hub
	if Reserved(f.Channel) {
		s.sendError(errReserved, f.ID, f.Channel)
		return
	}
	if h.cfg.Namespaces.Lookup(f.Channel).NoTyping {
		s.sendError(&protocol.Error{Code: protocol.CodeForbidden, Message: "typing is off for this namespace"}, f.ID, f.Channel)
		return
	}
	s.mu.Lock()
	subscribed := s.find(f.Channel) != nil
	s.mu.Unlock()
	if !subscribed {
		s.sendError(&protocol.Error{Code: protocol.CodeNotFound, Message: "subscribe to the channel before typing in it"}, f.ID, f.Channel)
		return
	}
	if !h.typingAllowed(id.UserID, f.Channel) {
		return
	}
	ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
	defer cancel()
	h.broadcast(ctx, f.Channel, &ephemeral{Kind: ephTyping, User: id.UserID})
}

// typingAllowed reports whether the user's typing notice to channel is
// due: the first one in TypingInterval.
func (h *Hub) typingAllowed(user, channel string) bool {
	now := h.clock.Now()
	key := typingKey{user: user, channel: channel}
	h.typingMu.Lock()
	defer h.typingMu.Unlock()
	if last, ok := h.typingLast[key]; ok && now.Sub(last) < h.cfg.TypingInterval {
		return false
	}
	h.typingLast[key] = now
	return true
}

type typingKey struct{ user, channel string }

// sweepTyping forgets throttles that have run out.
func (h *Hub) sweepTyping(now time.Time) {
	h.typingMu.Lock()
	defer h.typingMu.Unlock()
	for k, last := range h.typingLast {
		if now.Sub(last) >= h.cfg.TypingInterval {
			delete(h.typingLast, k)
		}
	}
}

// deliverTyping sends a typing_notice to the channel's local subscribers,
// but for the typing user's own connections.
func (h *Hub) deliverTyping(c *channel, user string) {
	f := &Frame{JSON: protocol.AppendTypingNotice(nil, c.name, user, h.cfg.TypingTTL.Milliseconds())}
	n := h.deliverTo(c, f, func(sub *subscription) bool {
		id := sub.sess.identity
		return sub.answered && id != nil && id.UserID != user
	})
	h.Stats.TypingFrames.Add(uint64(n))
}
