package hub

import (
	"time"

	"github.com/heraldrt/herald/protocol"
)

// sweepLoop checks every session once per SweepInterval: auth deadlines,
// heartbeats and token expiry. One goroutine for all sessions keeps idle
// connections free of timers.
func (h *Hub) sweepLoop() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			now := h.clock.Now()
			h.sweep(now)
			h.sweepTyping(now)
		}
	}
}

func (h *Hub) sweep(now time.Time) {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	for _, s := range h.sessions {
		s.check(now)
	}
}

// check applies the time-based rules to one session.
func (s *Session) check(now time.Time) {
	cfg := &s.hub.cfg
	nowMs := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.identity == nil {
		if nowMs-s.lastPing >= cfg.AuthTimeout.Milliseconds() {
			s.closeLocked(protocol.CloseAuthFailed, "authentication timeout")
		}
		return
	}
	silent := nowMs - s.lastRecv.Load()
	if silent >= cfg.PingInterval.Milliseconds() && len(s.out) == 0 {
		// An idle session gives back its write queue; the next write
		// makes a new one.
		s.out = nil
	}
	switch {
	case silent >= (cfg.PingInterval + cfg.PongTimeout).Milliseconds():
		// Nothing, not even a pong: the peer is gone (a phone that lost
		// its network sends no FIN). Nobody is there to read a close.
		s.abortLocked()
		return
	case silent >= cfg.PingInterval.Milliseconds() && nowMs-s.lastPing >= cfg.PingInterval.Milliseconds():
		if err := s.conn.Ping(); err != nil {
			s.abortLocked()
			return
		}
		s.lastPing = nowMs
	}
	if exp := s.identity.ExpiresAt; !exp.IsZero() {
		switch {
		case !now.Before(exp.Add(cfg.TokenExpiryGrace)):
			s.queueError(&protocol.Error{Code: protocol.CodeUnauthorized, Message: "token expired"}, "", "")
			s.flushLocked()
			s.closeLocked(protocol.CloseAuthFailed, "token expired")
		case !s.warned && now.After(exp.Add(-cfg.TokenExpiryWarning)):
			s.warned = true
			s.queueJSON(protocol.AppendTokenExpiring(nil, exp.UnixMilli()))
			s.flushLocked()
		}
	}
}
