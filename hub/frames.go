package hub

import (
	"context"
	"errors"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// authTimeout bounds a token check (a JWKS fetch on an unknown key id).
const authTimeout = 10 * time.Second

// errAuthFirst answers frames that need an authenticated connection.
var errAuthFirst = &protocol.Error{Code: protocol.CodeUnauthorized, Message: "authenticate first: send an auth frame"}

// handle handles one decoded client frame.
func (s *Session) handle(f *protocol.Frame) {
	if perr := f.ValidateClient(); perr != nil {
		s.mu.Lock()
		s.queueRefusal(perr, f)
		s.flushLocked()
		s.mu.Unlock()
		return
	}
	switch f.Type {
	case protocol.TypeAuth:
		s.authenticate(f)
		return
	case protocol.TypePing:
		s.send(protocol.AppendPong(nil, f.ID, s.hub.clock.Now().UnixMilli()))
		return
	}
	id := s.currentIdentity()
	if id == nil {
		s.sendError(errAuthFirst, f.ID, f.Channel)
		return
	}
	switch f.Type {
	case protocol.TypeSubscribe:
		s.subscribe(id, f)
	case protocol.TypeUnsubscribe:
		s.unsubscribe(f)
	case protocol.TypePublish:
		s.publish(id, f)
	case protocol.TypePresence:
		s.presenceQuery(id, f)
	case protocol.TypeTyping:
		s.typing(id, f)
	case protocol.TypeReceipt:
		s.receipt(id, f)
	case protocol.TypeStateSet:
		s.stateSet(id, f)
	case protocol.TypeHistory:
		s.history(id, f)
	}
}

// authenticate handles an auth frame: the first one authenticates the
// connection, a later one refreshes its token.
func (s *Session) authenticate(f *protocol.Frame) {
	h := s.hub
	actx, acancel := context.WithTimeout(h.life, authTimeout)
	ident, err := h.auth.Authenticate(actx, f.Token)
	acancel()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	prev := s.identity
	switch {
	case err != nil:
		h.Stats.AuthFailures.Add(1)
		msg := err.Error()
		if errors.Is(err, herald.ErrTokenExpired) {
			msg = "token expired"
		}
		s.queueError(&protocol.Error{Code: protocol.CodeUnauthorized, Message: msg}, f.ID, "")
		s.flushLocked()
		if prev == nil {
			s.closeLocked(protocol.CloseAuthFailed, "authentication failed")
		}
		s.mu.Unlock()
		return
	case prev != nil && prev.UserID != ident.UserID:
		s.queueError(&protocol.Error{Code: protocol.CodeForbidden, Message: "a refreshed token must name the same user"}, f.ID, "")
		s.flushLocked()
		s.closeLocked(protocol.CloseForbidden, "user changed")
		s.mu.Unlock()
		return
	case prev != nil:
		s.refresh(&ident, f.ID)
		return
	}
	s.mu.Unlock()

	// A first auth: the user's connection limit, then the app backend.
	if !h.addUser(ident.UserID) {
		s.mu.Lock()
		s.queueError(&protocol.Error{Code: protocol.CodeForbidden, Message: "too many connections for this user"}, f.ID, "")
		s.flushLocked()
		s.closeLocked(protocol.ClosePolicy, "too many connections for this user")
		s.mu.Unlock()
		return
	}
	if h.cfg.Hooks != nil && h.cfg.ConnectHook {
		ctx, cancel := context.WithTimeout(h.life, h.cfg.HookTimeout)
		err := h.cfg.Hooks.Connect(ctx, s.clientInfo(&ident))
		cancel()
		if err != nil {
			h.removeUser(ident.UserID)
			perr, code := hookRefusal(err)
			s.mu.Lock()
			s.queueError(perr, f.ID, "")
			s.flushLocked()
			s.closeLocked(code, protocol.CloseCodes[code])
			s.mu.Unlock()
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		h.removeUser(ident.UserID)
		return
	}
	s.identity = &ident
	s.warned = false
	h.Stats.Authenticated.Add(1)
	s.queueJSON(protocol.AppendAuthOK(nil, f.ID, s.ID(), ident.UserID, ident.ExpiresAt.UnixMilli()))
	s.flushLocked()
	s.mu.Unlock()
	s.userOnline(&ident)
	s.mu.Lock() // for the deferred unlock
}

// refresh takes a refreshed token of the same user: subscriptions the new
// token no longer grants end with forbidden and unsubscribed. s.mu must be
// held; refresh releases it.
func (s *Session) refresh(ident *herald.Identity, ref string) {
	s.identity = ident
	s.warned = false
	s.queueJSON(protocol.AppendAuthOK(nil, ref, s.ID(), ident.UserID, ident.ExpiresAt.UnixMilli()))
	var lost []*subscription
	for i := 0; i < len(s.subs); {
		sub := s.subs[i]
		if s.hub.grantedByToken(ident, sub.channel) || s.hub.cfg.Namespaces.Lookup(sub.channel).SubscribeHook {
			i++
			continue
		}
		s.drop(sub)
		lost = append(lost, sub)
		s.queueError(&protocol.Error{Code: protocol.CodeForbidden, Message: "the refreshed token no longer grants this channel"}, "", sub.channel)
		s.queueJSON(protocol.AppendUnsubscribed(nil, "", sub.channel))
	}
	s.flushLocked()
	s.mu.Unlock()
	for _, sub := range lost {
		s.hub.leave(sub)
		s.removePresence(sub.channel)
		s.hub.notifyUnsubscribed(s, ident, sub.channel)
	}
}

// grantedByToken reports whether the identity may subscribe to channel by
// its token alone: its own user channel, or a pattern that matches. Other
// users' channels are never granted, whatever the patterns say.
func (h *Hub) grantedByToken(id *herald.Identity, channel string) bool {
	if protocol.Namespace(channel) == UserNamespace {
		return isInbox(channel, id.UserID)
	}
	if user, ok := statusUser(channel); ok && user == id.UserID {
		return true // one's own status
	}
	return protocol.MatchAny(id.Channels, channel)
}

// hookRefusal turns a hook's error into what the client sees: the
// backend's own answer, or internal when the backend could not be asked;
// and the close code that follows a refused connect.
func hookRefusal(err error) (*protocol.Error, int) {
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		return &protocol.Error{Code: protocol.CodeInternal, Message: "the app backend did not answer; retry later"}, protocol.CloseInternal
	}
	switch perr.Code {
	case protocol.CodeInternal:
		return perr, protocol.CloseInternal
	case protocol.CodeUnauthorized:
		return perr, protocol.CloseAuthFailed
	case protocol.CodeRateLimited:
		return perr, protocol.CloseRateLimited
	default:
		return perr, protocol.CloseForbidden
	}
}
