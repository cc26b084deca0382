package hub

import (
	"math"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// history answers a history frame with a page of the channel's log. It
// runs on the connection's handler goroutine, like subscribe: the client
// correlates the page by id, so nothing waits on it but the client.
func (s *Session) history(id *herald.Identity, f *protocol.Frame) {
	h := s.hub
	req, perr := h.historyRequest(f)
	if perr == nil {
		perr = s.admitHistory(id, f.Channel)
	}
	if perr != nil {
		s.sendError(perr, f.ID, f.Channel)
		return
	}
	// Each broker read has its deadline; a page far behind the head folds
	// the log up to the head, in many reads.
	hist, err := h.History(h.life, f.Channel, req)
	if err != nil {
		if perr, ok := err.(*protocol.Error); ok {
			s.sendError(perr, f.ID, f.Channel)
			return
		}
		h.log.Error("history read failed", "channel", f.Channel, "err", err)
		s.sendError(&protocol.Error{Code: protocol.CodeInternal, Message: "history unavailable; retry"}, f.ID, f.Channel)
		return
	}
	msgs := fitPage(hist.Messages, h.cfg.MaxQueueBytes/2, req.Before != 0)
	page := protocol.HistoryPage{
		ID: f.ID, Channel: f.Channel, Head: hist.Head, Oldest: hist.Oldest,
		Messages: make([]protocol.Message, len(msgs)),
	}
	size := 128 + len(f.ID) + len(f.Channel)
	for i, m := range msgs {
		page.Messages[i] = m.Protocol(f.Channel)
		size += messageSize(m)
	}
	// A page is one frame: it waits, as a replay does, until the client
	// has taken what is queued, so that it cannot overflow the queue.
	if !s.waitDrained() {
		s.mu.Lock()
		h.Stats.SlowConsumers.Add(1)
		s.closeLocked(protocol.CloseSlowConsumer, protocol.CloseCodes[protocol.CloseSlowConsumer])
		s.mu.Unlock()
		return
	}
	s.send(protocol.AppendHistoryPage(make([]byte, 0, size), &page))
}

// historyRequest turns a history frame, which ValidateClient accepted,
// into the broker's request: after, before, or neither for the newest
// messages; the limit within MaxHistoryLimit.
func (h *Hub) historyRequest(f *protocol.Frame) (herald.HistoryRequest, *protocol.Error) {
	max := h.cfg.MaxHistoryLimit
	limit := min(protocol.DefaultHistoryLimit, max)
	if f.Limit != nil {
		if *f.Limit > max {
			return herald.HistoryRequest{}, protocol.Errorf(protocol.CodeTooLarge, "limit %d; this server sends at most %d messages per page", *f.Limit, max)
		}
		limit = *f.Limit
	}
	req := herald.HistoryRequest{Limit: limit}
	switch {
	case f.After != nil:
		req.After = *f.After
	case f.Before != nil:
		req.Before = *f.Before
	default:
		// The newest messages, as a chat opening a room wants: the page
		// before the largest seq, which every broker clamps to its head.
		req.Before = math.MaxUint64
	}
	return req, nil
}

// admitHistory decides whether the identity may read channel's history:
// exactly when it may subscribe to it. A connection subscribed to the
// channel was admitted when it subscribed (and a token refresh that no
// longer grants the channel ended the subscription), so the app
// backend's hook is not asked again for every page of an open room.
func (s *Session) admitHistory(id *herald.Identity, channel string) *protocol.Error {
	s.mu.Lock()
	subscribed := s.find(channel) != nil
	s.mu.Unlock()
	if subscribed {
		return nil
	}
	return s.admitSubscribe(id, channel)
}

// fitPage trims a page to about budget bytes once encoded, keeping at
// least one message, so that one page never fills a connection's queue
// (a page of large payloads could pass it and close the connection as a
// slow consumer). Reading forward it keeps the start, reading backward
// the end: the page stays next to the position the client asked from, and
// the client pages on from its edge as after any page.
func fitPage(msgs []Message, budget int, backward bool) []Message {
	size := 0
	if backward {
		for i := len(msgs) - 1; i >= 0; i-- {
			if size += messageSize(msgs[i]); size > budget && i < len(msgs)-1 {
				return msgs[i+1:]
			}
		}
		return msgs
	}
	for i, m := range msgs {
		if size += messageSize(m); size > budget && i > 0 {
			return msgs[:i]
		}
	}
	return msgs
}
