package hub

import (
	"context"
	"errors"
	"strings"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// User status. A user is online while at least one of their connections,
// on any node, is authenticated. Each node records its connections in the
// presence of the reserved channel $user.<sub> (shared through the broker
// when nodes share one), and when a user's last connection goes, the time
// in that channel's map, durably: the user's last-seen time. The status
// of a user is watched by subscribing to status.<sub>, which the token
// must grant (a user's own needs no grant); the server writes it:
// user_status right after subscribed, then one whenever the user's
// number of devices changes. Nodes tell one another with an ephemeral
// message on status.<sub>, and the presence resync catches the users of
// nodes that died.

// StatusNamespace holds the status channels, status.<sub>: written by
// the server only.
const StatusNamespace = "status"

// Map and key of the last-seen time.
const (
	mapSeen = "seen"
	keyLast = "last"
)

var errStatusWrite = &protocol.Error{Code: protocol.CodeForbidden, Message: "status channels are written by the server"}

// statusUser returns the user whose status channel is channel.
func statusUser(channel string) (string, bool) {
	user, ok := strings.CutPrefix(channel, StatusNamespace+".")
	return user, ok && user != ""
}

// onlineChannel is the reserved channel whose presence is the user's
// connections.
func onlineChannel(user string) string { return "$user." + user }

// userStatus reads a user's status: their connections on every node, and
// when they were last seen.
func (h *Hub) userStatus(ctx context.Context, user string) (protocol.UserStatus, error) {
	st := protocol.UserStatus{UserID: user}
	if p := h.sharedPresence(); p != nil {
		entries, err := p.Presence(ctx, onlineChannel(user))
		if err != nil {
			return st, err
		}
		st.Devices = len(entries)
	} else {
		h.sessMu.Lock()
		st.Devices = int(h.users[user])
		h.sessMu.Unlock()
	}
	st.Online = st.Devices > 0
	if m := h.maps(); m != nil && !st.Online {
		entries, err := m.MapGet(ctx, onlineChannel(user), mapSeen, keyLast)
		if err != nil {
			return st, err
		}
		for _, e := range entries {
			st.LastSeen = int64(e.Version)
		}
	}
	return st, nil
}

// userOnline records a new authenticated connection and tells the
// user's watchers. It runs on the session's handler goroutine after
// auth_ok.
func (s *Session) userOnline(id *herald.Identity) {
	h := s.hub
	ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
	defer cancel()
	if p := h.sharedPresence(); p != nil {
		e := herald.PresenceEntry{ConnectionID: s.ID(), UserID: id.UserID, Info: id.Info}
		if err := p.AddPresence(ctx, onlineChannel(id.UserID), e); err != nil && !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("recording a user online failed", "err", err)
		}
		s.mu.Lock()
		ended := s.ended
		s.mu.Unlock()
		if ended {
			// The session ended meanwhile, and its cleanup may have run
			// before the entry was there.
			_ = p.RemovePresence(ctx, onlineChannel(id.UserID), s.ID())
		}
	}
	h.announceStatus(ctx, id.UserID)
}

// userOffline takes an ended connection out of its user's status,
// recording when the user was last seen if it was their last one.
func (s *Session) userOffline(user string) {
	h := s.hub
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	if p := h.sharedPresence(); p != nil && !h.draining.Load() {
		if err := p.RemovePresence(ctx, onlineChannel(user), s.ID()); err != nil && !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("recording a user offline failed", "err", err)
		}
	}
	st, err := h.userStatus(ctx, user)
	if err != nil {
		if !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("reading a user's status failed", "err", err)
		}
		return
	}
	if !st.Online {
		now := h.clock.Now().UnixMilli()
		if m := h.maps(); m != nil {
			if _, _, err := m.MapPut(ctx, onlineChannel(user), mapSeen, herald.MapEntry{Key: keyLast, Version: uint64(now)}); err != nil && !errors.Is(err, herald.ErrClosed) {
				h.log.Warn("recording last seen failed", "err", err)
			}
		}
		st.LastSeen = now
	}
	h.broadcastStatus(ctx, st)
}

// announceStatus reads the user's status and tells the watchers.
func (h *Hub) announceStatus(ctx context.Context, user string) {
	st, err := h.userStatus(ctx, user)
	if err != nil {
		if !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("reading a user's status failed", "err", err)
		}
		return
	}
	h.broadcastStatus(ctx, st)
}

func (h *Hub) broadcastStatus(ctx context.Context, st protocol.UserStatus) {
	h.broadcast(ctx, StatusNamespace+"."+st.UserID, &ephemeral{Kind: ephStatus, User: st.UserID, Status: &st})
}

// deliverStatus passes a status to the channel's local subscriptions;
// those still subscribing keep it for their first user_status.
func (h *Hub) deliverStatus(c *channel, st *protocol.UserStatus) {
	c.status.Store(st)
	f := &Frame{JSON: protocol.AppendUserStatus(nil, c.name, st)}
	h.deliverTo(c, f, func(sub *subscription) bool {
		if sub.status != nil {
			sub.status = st
			return false
		}
		return sub.answered
	})
}

// gatherStatus reads the status a new subscription to a status channel
// starts from, before its first history read.
func (s *Session) gatherStatus(sub *subscription, gen uint32, user string) {
	ctx, cancel := context.WithTimeout(s.hub.life, presenceTimeout)
	st, err := s.hub.userStatus(ctx, user)
	cancel()
	if err != nil {
		s.hub.log.Warn("reading a user's status failed", "err", err)
		st = protocol.UserStatus{UserID: user}
	}
	s.mu.Lock()
	if !s.stale(sub, gen) && sub.status == nil {
		sub.status = &st
	}
	s.mu.Unlock()
	c := s.hub.channel(sub.channel)
	if c != nil {
		c.status.CompareAndSwap(nil, &st)
	}
}

// resyncStatus rereads the status of the users watched on this node, so
// that those of a node that died go offline.
func (h *Hub) resyncStatus() {
	h.mu.RLock()
	var chans []*channel
	for name, c := range h.channels {
		if _, ok := statusUser(name); ok {
			chans = append(chans, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range chans {
		user, _ := statusUser(c.name)
		ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
		st, err := h.userStatus(ctx, user)
		cancel()
		if err != nil {
			continue
		}
		if last := c.status.Load(); last != nil && last.Online == st.Online && last.Devices == st.Devices {
			continue
		}
		if !st.Online && st.LastSeen == 0 {
			st.LastSeen = h.clock.Now().UnixMilli()
		}
		h.deliverStatus(c, &st)
	}
}

// UserStatus returns whether the user is online, on how many devices,
// and when they were last seen.
func (h *Hub) UserStatus(ctx context.Context, user string) (protocol.UserStatus, error) {
	if user == "" {
		return protocol.UserStatus{}, &protocol.Error{Code: protocol.CodeBadRequest, Message: "user is required"}
	}
	return h.userStatus(ctx, user)
}
