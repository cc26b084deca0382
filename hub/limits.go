package hub

import "github.com/heraldrt/herald/protocol"

// allowFrames takes n tokens from the connection's frame bucket. A refused
// message gets rate_limited; a client that goes on sending past a burst's
// worth of refusals is closed with 4029. It runs on the connection's
// handler goroutine, which owns the bucket.
func (s *Session) allowFrames(n int) bool {
	cfg := &s.hub.cfg
	if s.frames.Allow(s.hub.clock.Now().UnixMilli(), n, cfg.MaxFrameRate, cfg.MaxFrameBurst) {
		s.refused = 0
		return true
	}
	s.refused++
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(s.refused) > cfg.MaxFrameBurst {
		s.closeLocked(protocol.CloseRateLimited, protocol.CloseCodes[protocol.CloseRateLimited])
		return false
	}
	s.queueError(&protocol.Error{Code: protocol.CodeRateLimited, Message: "too many frames; slow down"}, "", "")
	s.flushLocked()
	return false
}

// addUser counts a new connection of userID, refusing it past the limit.
func (h *Hub) addUser(userID string) bool {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	n := h.users[userID]
	if max := h.cfg.MaxConnectionsPerUser; max > 0 && int(n) >= max {
		return false
	}
	h.users[userID] = n + 1
	return true
}

// removeUser uncounts a connection of userID.
func (h *Hub) removeUser(userID string) {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	if n := h.users[userID]; n <= 1 {
		delete(h.users, userID)
	} else {
		h.users[userID] = n - 1
	}
}
