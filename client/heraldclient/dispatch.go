package heraldclient

import "github.com/heraldrt/herald/protocol"

// handle acts on one server frame. It runs on cn's reader goroutine, so
// frames are handled one at a time, in the order the server sent them.
func (c *Client) handle(cn *conn, f *protocol.Frame) {
	switch f.Type {
	case protocol.TypeAuthOK:
		c.handleAuthOK(cn, f)
		return
	case protocol.TypeError:
		c.handleError(cn, f)
		return
	case protocol.TypeTokenExpiring:
		select {
		case cn.refresh <- struct{}{}:
		default:
		}
		return
	case protocol.TypePong:
		return // its arrival is all the heartbeat needs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != cn {
		return // not (or no longer) the client's connection
	}
	switch f.Type {
	case protocol.TypeMessage:
		c.handleMessage(f)
	case protocol.TypeSubscribed:
		c.handleSubscribed(f)
	case protocol.TypeSnapshotRequired:
		c.handleSnapshotRequired(f)
	case protocol.TypeAck:
		c.handleAck(f)
	case protocol.TypePresenceState:
		c.handlePresenceState(f)
	case protocol.TypePresenceDiff:
		c.handlePresenceDiff(f)
	case protocol.TypeTypingNotice:
		c.handleTypingNotice(f)
	case protocol.TypeReceipts:
		c.handleReceipts(f)
	case protocol.TypeUserStatus:
		c.handleUserStatus(f)
	case protocol.TypeState:
		c.handleState(f)
	case protocol.TypeHistoryPage:
		c.answer(f)
	case protocol.TypeUnsubscribed:
		if w, ok := c.unsubs[f.ID]; ok {
			delete(c.unsubs, f.ID)
			w <- nil
		}
	default:
		// PROTOCOL.md §1: ignore frame types this client does not know.
		c.log.Debug("heraldclient: ignoring unknown server frame", "type", f.Type)
	}
}

func (c *Client) handleAuthOK(cn *conn, f *protocol.Frame) {
	if !cn.authed.Load() {
		cn.id, cn.userID = f.ConnectionID, f.UserID
		cn.authed.Store(true)
		select {
		case cn.authResult <- nil:
		default:
		}
		return
	}
	c.log.Debug("heraldclient: token refreshed", "connectionId", f.ConnectionID, "expiresAt", f.ExpiresAt)
}

// handleError routes an error frame to the call it answers, by ref.
func (c *Client) handleError(cn *conn, f *protocol.Frame) {
	e := errorFromFrame(f.Code, f.Message)
	if !cn.authed.Load() {
		if f.Ref == cn.authID {
			select {
			case cn.authResult <- e:
			default:
			}
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != cn {
		return
	}
	if f.Ref == "" {
		// Not an answer to a request. With a channel and a final code, the
		// server ended that subscription: a refreshed token no longer
		// grants it (an unsubscribed without id follows). Otherwise, such
		// as "token expired" right before a 4001 close, the close is what
		// the client acts on.
		if sub := c.subs[f.Channel]; sub != nil && !transient(e.Code) {
			c.log.Warn("heraldclient: the server ended a subscription", "channel", f.Channel, "err", e)
			delete(c.subs, f.Channel)
			c.endSub(sub, e)
			return
		}
		c.log.Warn("heraldclient: server error", "err", e)
		return
	}
	if c.refuse(f.Ref, e) {
		return
	}
	if p := c.out.get(f.Channel, f.Ref); p != nil {
		c.publishFailed(p, e)
		return
	}
	if sub := c.subs[f.Channel]; sub != nil && sub.reqID == f.Ref {
		c.subscribeFailed(sub, e)
		return
	}
	if w, ok := c.unsubs[f.Ref]; ok {
		delete(c.unsubs, f.Ref)
		if e.Code == protocol.CodeNotFound {
			w <- nil // not subscribed on the server: the goal is reached
		} else {
			w <- e
		}
		return
	}
	if f.Ref == cn.refreshID {
		// A refresh token was refused. The connection keeps its old
		// identity; at expiry the server closes with 4001 and the
		// reconnect asks Token for a new one.
		c.log.Warn("heraldclient: token refresh refused", "err", e)
		return
	}
	c.log.Debug("heraldclient: server error for a request no longer pending", "ref", f.Ref, "err", e)
}
