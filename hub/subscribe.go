package hub

import (
	"context"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// maxRecoveryBuffer bounds the live frames a recovering subscription
// keeps. Past it they are dropped and read from history instead, which
// holds every one of them.
const maxRecoveryBuffer = 4096

// historyTimeout bounds one history read.
const historyTimeout = 10 * time.Second

// subscription is one session's subscription to one channel.
type subscription struct {
	sess    *Session
	channel string

	// The fields below are guarded by sess.mu.

	// last is the seq of the last message frame queued for the client.
	last uint64
	// rec is set while history is being replayed (after a subscribe, or
	// to fill a gap): live frames are buffered there meanwhile.
	rec *recovery
	// gen changes when the subscription restarts (a new subscribe) and is
	// 0 once it has ended (removed); either tells a running recovery to
	// stop.
	gen uint32

	// idx is the subscription's place in its channel's subs, guarded by
	// the channel's lock.
	idx int32

	// answered is set once subscribed was queued; typing notices come
	// after it. wantPresence asks for presence events; watching is set
	// once presence_state was queued, and diffs follow it. view is the
	// channel's presence view while wantPresence holds.
	answered, wantPresence, watching bool
	view                             *presenceView
	// wantReceipts asks for receipts; rcpt gathers them until subscribed
	// is sent.
	wantReceipts bool
	rcpt         *receiptState
	// status holds the user status a subscription to a status channel
	// starts from, until subscribed is sent.
	status *protocol.UserStatus
	// state holds the channel state a subscription with state starts
	// from, until subscribed is sent.
	state map[string]protocol.StateEntry
}

// recovery is the state of a subscription that is catching up.
type recovery struct {
	buffer []*Frame
	// overflow records that buffered frames were dropped since the last
	// history read.
	overflow bool
}

// find returns the session's subscription to channel, or nil; s.mu must
// be held.
func (s *Session) find(channel string) *subscription {
	for _, sub := range s.subs {
		if sub.channel == channel {
			return sub
		}
	}
	return nil
}

// drop removes sub from the session's subscriptions; s.mu must be held.
func (s *Session) drop(sub *subscription) {
	for i, x := range s.subs {
		if x == sub {
			last := len(s.subs) - 1
			s.subs[i] = s.subs[last]
			s.subs[last] = nil
			s.subs = s.subs[:last]
			break
		}
	}
	sub.stop()
}

// stop marks the subscription ended; s.mu must be held.
func (sub *subscription) stop() {
	sub.gen = 0
	sub.unwatch()
}

// unwatch stops the subscription's presence events; s.mu must be held.
func (sub *subscription) unwatch() {
	if sub.watching {
		sub.view.watchers.Add(-1)
		sub.watching = false
	}
}

// removed reports whether the subscription has ended; s.mu must be held.
func (sub *subscription) removed() bool { return sub.gen == 0 }

// subscribeReply is what the first history read of a subscribe answers.
type subscribeReply struct {
	id      string
	lastSeq *uint64
}

// deliver queues live frames, in seq order, and reports whether the
// session needs a flush. It is called by the fan-out with the channel's
// read lock held.
func (sub *subscription) deliver(frames []*Frame) bool {
	s := sub.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || sub.removed() {
		return false
	}
	queued := false
	for _, f := range frames {
		if r := sub.rec; r != nil {
			if f.seq > sub.last && !r.overflow {
				if len(r.buffer) >= maxRecoveryBuffer {
					r.buffer, r.overflow = nil, true
				} else {
					r.buffer = append(r.buffer, f)
				}
			}
			continue
		}
		switch {
		case f.seq <= sub.last:
			// Already sent: a duplicate at the replay seam.
		case f.seq == sub.last+1:
			sub.last = f.seq
			s.queue(f)
			queued = true
		default:
			// A gap: the broker skipped ahead. Fill it from history.
			sub.rec = &recovery{buffer: []*Frame{f}}
			go s.recover(sub, sub.gen, nil)
		}
	}
	return queued
}

func (s *Session) subscribe(id *herald.Identity, f *protocol.Frame) {
	if f.Presence && s.hub.cfg.Namespaces.Lookup(f.Channel).NoPresence {
		s.sendError(errNoPresence, f.ID, f.Channel)
		return
	}
	if (f.Receipts || f.State) && s.hub.maps() == nil {
		s.sendError(errNoMaps, f.ID, f.Channel)
		return
	}
	if perr := s.admitSubscribe(id, f.Channel); perr != nil {
		s.sendError(perr, f.ID, f.Channel)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	sub := s.find(f.Channel)
	isNew := sub == nil
	if isNew && len(s.subs) >= s.hub.cfg.MaxSubscriptions {
		s.queueError(protocol.Errorf(protocol.CodeTooLarge, "at most %d subscriptions per connection", s.hub.cfg.MaxSubscriptions), f.ID, f.Channel)
		s.flushLocked()
		s.mu.Unlock()
		return
	}
	if isNew {
		sub = &subscription{sess: s, channel: f.Channel}
		s.subs = append(s.subs, sub)
	}
	sub.gen++
	if sub.gen == 0 {
		sub.gen = 1 // 0 means removed
	}
	gen := sub.gen
	sub.unwatch()
	sub.answered, sub.wantPresence, sub.view = false, f.Presence, nil
	sub.wantReceipts, sub.rcpt, sub.status, sub.state = f.Receipts, nil, nil, nil
	sub.rec = &recovery{}
	sub.last = 0
	if f.LastSeq != nil {
		sub.last = *f.LastSeq
		s.hub.Stats.Resumes.Add(1)
	}
	s.mu.Unlock()

	if isNew {
		ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
		err := s.hub.join(ctx, sub)
		cancel()
		if err != nil {
			s.hub.log.Error("broker subscribe failed", "channel", f.Channel, "err", err)
			s.mu.Lock()
			if !sub.removed() {
				s.drop(sub)
			}
			s.queueError(&protocol.Error{Code: protocol.CodeInternal, Message: "subscribe failed; retry"}, f.ID, f.Channel)
			s.flushLocked()
			s.mu.Unlock()
			return
		}
		// The session may have ended while joining, after its cleanup
		// looked for subscriptions to remove.
		s.addPresence(id, f.Channel)
		s.mu.Lock()
		ended := s.ended
		s.mu.Unlock()
		if ended {
			s.hub.leave(sub)
			s.removePresence(f.Channel)
			return
		}
	}
	if f.Receipts {
		s.gatherReceipts(sub, gen)
	}
	if user, ok := statusUser(f.Channel); ok {
		s.gatherStatus(sub, gen, user)
	}
	if f.State {
		s.gatherState(sub, gen)
	}
	if f.Presence {
		ctx, cancel := context.WithTimeout(s.hub.life, presenceTimeout)
		v := s.hub.watchPresence(ctx, f.Channel)
		cancel()
		s.mu.Lock()
		if !s.stale(sub, gen) {
			sub.view = v
		}
		s.mu.Unlock()
	}
	s.recover(sub, gen, &subscribeReply{id: f.ID, lastSeq: f.LastSeq})
}

func (s *Session) unsubscribe(f *protocol.Frame) {
	s.mu.Lock()
	sub := s.find(f.Channel)
	if sub == nil {
		s.queueError(&protocol.Error{Code: protocol.CodeNotFound, Message: "not subscribed to this channel"}, f.ID, f.Channel)
		s.flushLocked()
		s.mu.Unlock()
		return
	}
	s.drop(sub)
	s.queueJSON(protocol.AppendUnsubscribed(nil, f.ID, f.Channel))
	s.flushLocked()
	id := s.identity
	s.mu.Unlock()
	s.hub.leave(sub)
	s.removePresence(f.Channel)
	if id != nil {
		s.hub.notifyUnsubscribed(s, id, f.Channel)
	}
}

// admitSubscribe decides whether the identity may subscribe to channel:
// the app backend's hook for namespaces that have one, else the token
// (its own user channel, or its patterns; never another user's channel).
func (s *Session) admitSubscribe(id *herald.Identity, channel string) *protocol.Error {
	h := s.hub
	if Reserved(channel) {
		return errReserved
	}
	if h.cfg.Hooks != nil && h.cfg.Namespaces.Lookup(channel).SubscribeHook {
		ctx, cancel := context.WithTimeout(h.life, h.cfg.HookTimeout)
		defer cancel()
		if err := h.cfg.Hooks.Subscribe(ctx, s.clientInfo(id), channel); err != nil {
			perr, _ := hookRefusal(err)
			return perr
		}
		return nil
	}
	if !h.grantedByToken(id, channel) {
		if protocol.Namespace(channel) == UserNamespace {
			return &protocol.Error{Code: protocol.CodeForbidden, Message: "a user channel is its user's alone"}
		}
		return &protocol.Error{Code: protocol.CodeForbidden, Message: "the token does not grant this channel"}
	}
	return nil
}

// stale reports whether a recovery of generation gen should stop; s.mu
// must be held.
func (s *Session) stale(sub *subscription, gen uint32) bool {
	return s.closed || sub.gen != gen
}

// recover replays history into a recovering subscription until it has
// caught up with the live frames buffered meanwhile. With reply set it
// answers a subscribe first (subscribed, or snapshot_required then
// subscribed); without, it fills a gap. Replayed messages are sent as
// they stand now (see fold.go); live frames, op entries included, as they
// came.
func (s *Session) recover(sub *subscription, gen uint32, reply *subscribeReply) {
	h := s.hub
	idle := 0
	fl := h.newFolder(sub.channel)
	for {
		s.mu.Lock()
		if s.stale(sub, gen) {
			s.mu.Unlock()
			return
		}
		sub.rec.overflow = false
		after := sub.last
		s.mu.Unlock()

		limit := h.cfg.ReplayPage
		if reply != nil && reply.lastSeq == nil {
			limit = 0 // from now on: the position is all we need
		}
		ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
		hist, err := h.broker.History(ctx, sub.channel, herald.HistoryRequest{After: after, Limit: limit})
		cancel()
		var msgs []Message
		if err == nil {
			msgs, err = fl.fold(context.Background(), hist.Publications, hist.Head)
		}
		if err != nil {
			h.log.Error("history read failed", "channel", sub.channel, "err", err)
			s.recoveryFailed(sub, gen, reply)
			return
		}

		s.mu.Lock()
		if s.stale(sub, gen) {
			s.mu.Unlock()
			return
		}
		progressed := false
		if reply != nil {
			s.answerSubscribe(sub, reply, hist)
			reply = nil
		} else if hist.Head > sub.last && hist.Oldest > sub.last+1 {
			// Retention dropped what the client still needed while it
			// was being replayed.
			h.Stats.SnapshotRequired.Add(1)
			s.queueJSON(protocol.AppendSnapshotRequired(nil, "", sub.channel, hist.Head, hist.Oldest))
			sub.last = hist.Head
			progressed = true
		}
		for _, m := range msgs {
			if m.Seq == sub.last+1 {
				s.queue(encodeMessage(sub.channel, m))
				sub.last = m.Seq
				h.Stats.Replayed.Add(1)
				progressed = true
			}
		}
		r := sub.rec
		i := 0
		for i < len(r.buffer) && r.buffer[i].seq <= sub.last+1 {
			if f := r.buffer[i]; f.seq == sub.last+1 {
				s.queue(f)
				sub.last = f.seq
				progressed = true
			}
			i++
		}
		r.buffer = r.buffer[i:]
		done := !r.overflow && len(r.buffer) == 0 && sub.last >= hist.Head
		if done {
			sub.rec = nil
		}
		s.flushLocked()
		s.mu.Unlock()
		if done {
			return
		}
		if progressed {
			idle = 0
		} else if idle++; idle > 50 {
			h.log.Error("recovery made no progress", "channel", sub.channel, "last", after, "head", hist.Head)
			s.recoveryFailed(sub, gen, nil)
			return
		} else {
			time.Sleep(20 * time.Millisecond)
		}
		if !s.waitDrained() {
			s.mu.Lock()
			if !s.stale(sub, gen) {
				h.Stats.SlowConsumers.Add(1)
				s.closeLocked(protocol.CloseSlowConsumer, protocol.CloseCodes[protocol.CloseSlowConsumer])
			}
			s.mu.Unlock()
			return
		}
	}
}

// answerSubscribe queues the reply to a subscribe from the first history
// read; s.mu must be held.
func (s *Session) answerSubscribe(sub *subscription, reply *subscribeReply, hist herald.History) {
	unread, receipts := s.receiptsReply(sub, hist.Head)
	switch {
	case reply.lastSeq == nil:
		sub.last = hist.Head
		s.queueJSON(protocol.AppendSubscribedUnread(nil, reply.id, sub.channel, hist.Head, false, unread))
	case *reply.lastSeq > hist.Head || (*reply.lastSeq < hist.Head && *reply.lastSeq+1 < hist.Oldest):
		// The client missed messages that are gone, or is ahead of this
		// log altogether: it must reload its state.
		s.hub.Stats.SnapshotRequired.Add(1)
		sub.last = hist.Head
		if sub.state != nil {
			s.queueJSON(protocol.AppendSnapshotRequiredState(nil, reply.id, sub.channel, hist.Head, hist.Oldest, sub.state))
		} else {
			s.queueJSON(protocol.AppendSnapshotRequired(nil, reply.id, sub.channel, hist.Head, hist.Oldest))
		}
		s.queueJSON(protocol.AppendSubscribedUnread(nil, reply.id, sub.channel, hist.Head, false, unread))
	default:
		s.queueJSON(protocol.AppendSubscribedUnread(nil, reply.id, sub.channel, hist.Head, true, unread))
	}
	if receipts != nil {
		s.queueJSON(receipts)
	}
	if sub.state != nil {
		s.queueJSON(protocol.AppendState(nil, sub.channel, hist.Head, sub.state))
		sub.state = nil
	}
	if st := sub.status; st != nil {
		s.queueJSON(protocol.AppendUserStatus(nil, sub.channel, st))
		sub.status = nil
	}
	sub.answered = true
	if v := sub.view; sub.wantPresence && v != nil {
		s.queueJSON(v.state(sub.channel, s.hub.cfg.PresenceMaxMembers))
		sub.watching = true
		v.watchers.Add(1)
	}
}

// recoveryFailed ends a subscription whose history could not be read:
// a subscribe gets an error and no subscription; a gap fill closes the
// connection so that the client reconnects and recovers.
func (s *Session) recoveryFailed(sub *subscription, gen uint32, reply *subscribeReply) {
	s.mu.Lock()
	if s.stale(sub, gen) {
		s.mu.Unlock()
		return
	}
	if reply == nil {
		s.closeLocked(protocol.CloseInternal, protocol.CloseCodes[protocol.CloseInternal])
		s.mu.Unlock()
		return
	}
	s.drop(sub)
	s.queueError(&protocol.Error{Code: protocol.CodeInternal, Message: "history unavailable; retry the subscribe"}, reply.id, sub.channel)
	s.flushLocked()
	s.mu.Unlock()
	s.hub.leave(sub)
}

// waitDrained waits until the client has taken most of what was queued,
// so that a replay never queues more than MaxQueueBytes. It reports false
// if the client took nothing for ReplayStall.
func (s *Session) waitDrained() bool {
	limit := s.hub.cfg.MaxQueueBytes / 2
	deadline := time.Now().Add(s.hub.cfg.ReplayStall)
	for s.conn.Pending() > limit {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
