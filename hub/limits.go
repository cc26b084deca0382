package hub

import "github.com/heraldrt/herald/protocol"

// allowFrames takes a token per frame from the connection's frame bucket.
// A refused message gets rate_limited, once per frame that has an id
// (with that id as ref, so that the client knows which requests to send
// again) or once for the message; a client that goes on sending past a
// burst's worth of refusals is closed with 4029. It runs on the
// connection's handler goroutine, which owns the bucket.
func (s *Session) allowFrames(frames []protocol.Frame) bool {
	cfg := &s.hub.cfg
	if s.frames.Allow(s.hub.clock.Now().UnixMilli(), len(frames), cfg.MaxFrameRate, cfg.MaxFrameBurst) {
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
	refused := &protocol.Error{Code: protocol.CodeRateLimited, Message: "too many frames; slow down and send this again"}
	answered := false
	for i := range frames {
		if f := &frames[i]; f.ID != "" {
			s.queueError(refused, f.ID, f.Channel)
			answered = true
		}
	}
	if !answered {
		s.queueError(refused, "", "")
	}
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
