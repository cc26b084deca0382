package hub

import (
	"context"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/internal/ratelimit"
	"github.com/heraldrt/herald/protocol"
)

// publish handles one publish frame.
func (s *Session) publish(id *herald.Identity, f *protocol.Frame) {
	pub, perr := s.admitPublish(id, f)
	if perr != nil {
		s.sendError(perr, f.ID, f.Channel)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	res, err := s.hub.broker.Publish(ctx, f.Channel, pub)
	cancel()
	s.mu.Lock()
	s.queuePublished(f, res, err)
	s.flushLocked()
	s.mu.Unlock()
}

// publishRun returns the end of the run of publish frames starting at i.
func publishRun(frames []protocol.Frame, i int) int {
	j := i
	for j < len(frames) && frames[j].Type == protocol.TypePublish {
		j++
	}
	return j
}

// publishBatch publishes a run of publish frames with one broker call and
// answers each in order: an error for the ones refused before the broker,
// an ack or an error for the others.
func (s *Session) publishBatch(batcher herald.BatchPublisher, frames []protocol.Frame) {
	id := s.currentIdentity()
	refused := make([]*protocol.Error, len(frames))
	var reqs []herald.PublishRequest
	for i := range frames {
		f := &frames[i]
		perr := f.ValidateClient()
		var pub *herald.Publication
		if perr == nil {
			pub, perr = s.admitPublish(id, f)
		}
		if perr != nil {
			refused[i] = perr
			continue
		}
		reqs = append(reqs, herald.PublishRequest{Channel: f.Channel, Publication: pub})
	}
	var resps []herald.PublishResponse
	if len(reqs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		resps = batcher.PublishBatch(ctx, reqs)
		cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := 0
	for i := range frames {
		f := &frames[i]
		if perr := refused[i]; perr != nil {
			s.queueRefusal(perr, f)
			continue
		}
		r := resps[next]
		next++
		s.queuePublished(f, r.PublishResult, r.Err)
	}
	s.flushLocked()
}

// admitPublish applies the rules a client publish passes before it
// reaches the broker, in order: authenticated, the namespace takes client
// publishes, the payload's size, the publish rate, the permission (the
// backend's hook, or the token's patterns), then for an op entry the
// message it changes (see admitOp). It returns the publication to store.
func (s *Session) admitPublish(id *herald.Identity, f *protocol.Frame) (*herald.Publication, *protocol.Error) {
	if id == nil {
		return nil, errAuthFirst
	}
	h := s.hub
	if Reserved(f.Channel) {
		return nil, errReserved
	}
	if protocol.Namespace(f.Channel) == StatusNamespace {
		return nil, errStatusWrite
	}
	ns := h.cfg.Namespaces.Lookup(f.Channel)
	if ns.BackendOnly {
		return nil, &protocol.Error{Code: protocol.CodeForbidden, Message: "clients may not publish to this namespace"}
	}
	if ns.MaxMessageSize > 0 && len(f.Payload) > ns.MaxMessageSize {
		return nil, protocol.Errorf(protocol.CodeTooLarge, "payload of %d bytes; this namespace takes at most %d", len(f.Payload), ns.MaxMessageSize)
	}
	if !s.allowPublish(protocol.Namespace(f.Channel), &ns) {
		return nil, &protocol.Error{Code: protocol.CodeRateLimited, Message: "publishing too fast to this namespace; slow down"}
	}
	pub := &herald.Publication{ID: f.ID, Event: f.Event, Payload: f.Payload, From: id.UserID, Op: f.Op, Ref: f.Target}
	if ns.PublishHook && h.cfg.Hooks != nil {
		ctx, cancel := context.WithTimeout(h.life, h.cfg.HookTimeout)
		payload, err := h.cfg.Hooks.Publish(ctx, s.clientInfo(id), f.Channel, f.Event, f.Payload)
		cancel()
		if err != nil {
			perr, _ := hookRefusal(err)
			return nil, perr
		}
		if payload != nil {
			if ns.MaxMessageSize > 0 && len(payload) > ns.MaxMessageSize {
				h.log.Warn("the app backend rewrote a payload past the namespace's limit", "channel", f.Channel, "bytes", len(payload))
				return nil, &protocol.Error{Code: protocol.CodeInternal, Message: "the app backend's rewrite is too large"}
			}
			if pub.Op == protocol.OpReact || pub.Op == protocol.OpUnreact {
				if _, perr := protocol.ReactionKey(payload); perr != nil {
					h.log.Warn("the app backend rewrote a reaction key into an invalid one", "channel", f.Channel)
					return nil, &protocol.Error{Code: protocol.CodeInternal, Message: "the app backend's rewrite is not a reaction key"}
				}
			}
			pub.Payload = payload
		}
	} else if !isInbox(f.Channel, id.UserID) && !protocol.MatchAny(id.Channels, f.Channel) {
		return nil, &protocol.Error{Code: protocol.CodeForbidden, Message: "the token does not grant publishing to this channel"}
	}
	if pub.Op != "" {
		if perr := h.admitOp(f.Channel, pub, true); perr != nil {
			return nil, perr
		}
	}
	return pub, nil
}

// admitOp checks the message an op entry changes: it is retained (not
// not_found), it is a message and not an op entry (not bad_request), and,
// from a client, an edit or a delete is its author's (not forbidden); the
// app backend may edit and delete any message. Whether the message was
// deleted already is not checked: ops after a delete change nothing (see
// fold.go).
func (h *Hub) admitOp(channel string, p *herald.Publication, client bool) *protocol.Error {
	if h.cfg.Namespaces.Lookup(channel).NoHistory {
		return &protocol.Error{Code: protocol.CodeNotFound, Message: "this namespace keeps no messages to change"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	hist, err := h.broker.History(ctx, channel, herald.HistoryRequest{After: p.Ref - 1, Limit: 1})
	cancel()
	if err != nil {
		h.log.Error("reading the message an op changes failed", "channel", channel, "ref", p.Ref, "err", err)
		return &protocol.Error{Code: protocol.CodeInternal, Message: "the message to change could not be read; retry with the same id"}
	}
	if len(hist.Publications) == 0 || hist.Publications[0].Seq != p.Ref {
		return protocol.Errorf(protocol.CodeNotFound, "no message at seq %d: never published, or no longer retained", p.Ref)
	}
	target := hist.Publications[0]
	if target.Op != "" {
		return protocol.Errorf(protocol.CodeBadRequest, "seq %d is an op entry (%s); ops change messages", p.Ref, target.Op)
	}
	if client && (p.Op == protocol.OpEdit || p.Op == protocol.OpDelete) && target.From != p.From {
		return protocol.Errorf(protocol.CodeForbidden, "only its author may %s a message", p.Op)
	}
	return nil
}

// allowPublish takes a token from the connection's bucket for the
// namespace. Buckets are made on a connection's first publish, so idle
// connections carry none.
func (s *Session) allowPublish(namespace string, ns *Namespace) bool {
	rate, burst := s.hub.cfg.PublishRate, s.hub.cfg.PublishBurst
	if ns.PublishRate > 0 {
		rate = ns.PublishRate
	}
	if ns.PublishBurst > 0 {
		burst = ns.PublishBurst
	}
	if s.pubLimits == nil {
		s.pubLimits = make(map[string]*ratelimit.Bucket, 1)
	}
	b := s.pubLimits[namespace]
	if b == nil {
		b = &ratelimit.Bucket{}
		s.pubLimits[namespace] = b
	}
	return b.Allow(s.hub.clock.Now().UnixMilli(), 1, rate, burst)
}

// queuePublished queues the answer to a publish the broker was given: the
// ack, or an error that asks for a retry. s.mu must be held.
func (s *Session) queuePublished(f *protocol.Frame, res herald.PublishResult, err error) {
	if err != nil {
		s.hub.log.Error("publish failed", "channel", f.Channel, "err", err)
		s.queueError(&protocol.Error{Code: protocol.CodeInternal, Message: "the publish was not stored; retry with the same id"}, f.ID, f.Channel)
		return
	}
	if res.Duplicate {
		s.hub.Stats.Duplicates.Add(1)
	} else {
		s.hub.Stats.MessagesIn.Add(1)
	}
	s.queueJSON(protocol.AppendAck(nil, f.ID, f.Channel, res.Seq, res.Time))
}
