package hub

import (
	"context"
	"errors"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Receipts. A client reports how far its user has received (delivered)
// or read a channel with receipt frames. The node keeps the highest
// position per user, channel and status, and every ReceiptInterval
// writes them to the broker's channel maps, where a position only grows,
// then tells the channel's nodes the positions that moved, in one
// ephemeral message per channel. Each node passes them on, as one
// receipts frame, to the local subscriptions that asked for receipts. So
// a user who reads a hundred messages in a second causes one update, and
// a channel's subscribers get at most one receipts frame per interval
// from each node.

// Channel map names of the positions.
const (
	mapDelivered = "delivered"
	mapRead      = "read"
)

var errNoMaps = &protocol.Error{Code: protocol.CodeInternal, Message: "this node's broker keeps no receipts"}

// receiptKey names one user's positions in one channel.
type receiptKey struct{ channel, user string }

// positions are a user's delivered and read positions; zero is unknown.
type positions struct{ delivered, read uint64 }

// receiptState holds what a subscription with receipts gathers before
// its subscribed is sent: the channel's positions, merged with the
// updates that came meanwhile.
type receiptState struct {
	delivered, read map[string]uint64
}

func newReceiptState() *receiptState {
	return &receiptState{delivered: map[string]uint64{}, read: map[string]uint64{}}
}

// merge raises the positions of r to those given.
func (r *receiptState) merge(delivered, read map[string]uint64) {
	raise(r.delivered, delivered)
	raise(r.read, read)
}

func raise(dst, src map[string]uint64) {
	for u, seq := range src {
		if seq > dst[u] {
			dst[u] = seq
		}
	}
}

// maps returns the broker's channel maps, or nil.
func (h *Hub) maps() herald.MapBroker {
	m, _ := h.broker.(herald.MapBroker)
	return m
}

// receipt handles a receipt frame. Positions are written within
// ReceiptInterval; a receipt for a seq the connection has not been sent
// is refused.
func (s *Session) receipt(id *herald.Identity, f *protocol.Frame) {
	h := s.hub
	if Reserved(f.Channel) {
		s.sendError(errReserved, f.ID, f.Channel)
		return
	}
	if h.maps() == nil {
		s.sendError(errNoMaps, f.ID, f.Channel)
		return
	}
	s.mu.Lock()
	sub := s.find(f.Channel)
	var last uint64
	if sub != nil {
		last = sub.last
	}
	s.mu.Unlock()
	switch {
	case sub == nil:
		s.sendError(&protocol.Error{Code: protocol.CodeNotFound, Message: "subscribe to the channel before sending receipts for it"}, f.ID, f.Channel)
		return
	case f.Seq > last:
		s.sendError(protocol.Errorf(protocol.CodeBadRequest, "seq %d was not sent on this connection yet (last %d)", f.Seq, last), f.ID, f.Channel)
		return
	}
	k := receiptKey{channel: f.Channel, user: id.UserID}
	h.rcptMu.Lock()
	p := h.rcptPending[k]
	if p == nil {
		p = &positions{}
		h.rcptPending[k] = p
	}
	if f.Status == protocol.ReceiptRead {
		p.read = max(p.read, f.Seq)
	}
	// Read implies delivered.
	p.delivered = max(p.delivered, f.Seq)
	h.rcptMu.Unlock()
}

// receiptLoop writes and announces the positions reported every
// ReceiptInterval, and once more when the hub stops.
func (h *Hub) receiptLoop() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.ReceiptInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
			h.flushReceipts(ctx)
			cancel()
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
			h.flushReceipts(ctx)
			cancel()
		}
	}
}

// flushReceipts writes the pending positions and tells each channel's
// nodes the ones that moved.
func (h *Hub) flushReceipts(ctx context.Context) {
	h.rcptMu.Lock()
	pending := h.rcptPending
	if len(pending) == 0 {
		h.rcptMu.Unlock()
		return
	}
	h.rcptPending = make(map[receiptKey]*positions)
	h.rcptMu.Unlock()
	m := h.maps()
	moved := map[string]*ephemeral{}
	for k, p := range pending {
		e := moved[k.channel]
		if e == nil {
			e = &ephemeral{Kind: ephReceipts, Delivered: map[string]uint64{}, Read: map[string]uint64{}}
		}
		for _, w := range []struct {
			name string
			seq  uint64
			into map[string]uint64
		}{{mapRead, p.read, e.Read}, {mapDelivered, p.delivered, e.Delivered}} {
			if w.seq == 0 {
				continue
			}
			stored, _, err := m.MapPut(ctx, k.channel, w.name, herald.MapEntry{Key: k.user, Version: w.seq})
			if err != nil {
				if !errors.Is(err, herald.ErrClosed) {
					h.log.Warn("writing a receipt position failed", "channel", k.channel, "map", w.name, "err", err)
				}
				continue
			}
			if stored {
				w.into[k.user] = w.seq
			}
		}
		if len(e.Read)+len(e.Delivered) > 0 {
			moved[k.channel] = e
		}
	}
	for ch, e := range moved {
		h.broadcast(ctx, ch, e)
	}
}

// deliverReceipts passes position updates to the channel's local
// subscriptions with receipts; those still subscribing gather them.
func (h *Hub) deliverReceipts(c *channel, delivered, read map[string]uint64) {
	f := &Frame{JSON: protocol.AppendReceipts(nil, c.name, delivered, read)}
	h.deliverTo(c, f, func(sub *subscription) bool {
		if !sub.wantReceipts {
			return false
		}
		if sub.rcpt != nil {
			sub.rcpt.merge(delivered, read)
			return false
		}
		return sub.answered
	})
}

// channelPositions reads a channel's delivered and read positions.
func (h *Hub) channelPositions(ctx context.Context, channel string) (delivered, read map[string]uint64, err error) {
	if delivered, err = h.positions(ctx, channel, mapDelivered); err != nil {
		return nil, nil, err
	}
	if read, err = h.positions(ctx, channel, mapRead); err != nil {
		return nil, nil, err
	}
	return delivered, read, nil
}

// positions reads one positions map of a channel, of the users given or
// of all.
func (h *Hub) positions(ctx context.Context, channel, name string, users ...string) (map[string]uint64, error) {
	m := h.maps()
	if m == nil {
		return nil, errNoMaps
	}
	entries, err := m.MapGet(ctx, channel, name, users...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(entries))
	for _, e := range entries {
		out[e.Key] = e.Version
	}
	return out, nil
}

// gatherReceipts starts a subscription's receipts: it collects updates
// from now on and reads the channel's positions. It runs on the
// session's handler goroutine before the first history read.
func (s *Session) gatherReceipts(sub *subscription, gen uint32) {
	s.mu.Lock()
	if s.stale(sub, gen) {
		s.mu.Unlock()
		return
	}
	st := newReceiptState()
	sub.rcpt = st
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.hub.life, presenceTimeout)
	delivered, read, err := s.hub.channelPositions(ctx, sub.channel)
	cancel()
	if err != nil {
		s.hub.log.Warn("reading receipt positions failed", "channel", sub.channel, "err", err)
		return
	}
	s.mu.Lock()
	if sub.rcpt == st {
		st.merge(delivered, read)
	}
	s.mu.Unlock()
}

// receiptsReply returns the unread count for subscribed and the receipts
// frame with the channel's positions that follows it; s.mu must be held.
// Without receipts asked for it returns nils.
func (s *Session) receiptsReply(sub *subscription, head uint64) (*protocol.Unread, []byte) {
	st := sub.rcpt
	if !sub.wantReceipts || st == nil {
		return nil, nil
	}
	sub.rcpt = nil
	own := st.read[s.identity.UserID]
	u := &protocol.Unread{ReadSeq: own}
	if head > own {
		u.Unread = head - own
	}
	return u, protocol.AppendReceipts(nil, sub.channel, st.delivered, st.read)
}

// Receipts returns a channel's delivered and read positions by user.
func (h *Hub) Receipts(ctx context.Context, channel string) (delivered, read map[string]uint64, err error) {
	if !protocol.ValidChannel(channel) {
		return nil, nil, &protocol.Error{Code: protocol.CodeBadRequest, Message: "invalid channel name"}
	}
	if Reserved(channel) {
		return nil, nil, errReserved
	}
	return h.channelPositions(ctx, channel)
}

// UnreadCount is a user's read position in one channel.
type UnreadCount struct {
	Channel string `json:"channel"`
	// Head is the channel's newest seq; ReadSeq the user's read
	// position (0 if none); Unread the messages after it.
	Head    uint64 `json:"head"`
	ReadSeq uint64 `json:"readSeq"`
	Unread  uint64 `json:"unread"`
}

// Unread returns the user's unread count in each channel.
func (h *Hub) Unread(ctx context.Context, user string, channels []string) ([]UnreadCount, error) {
	out := make([]UnreadCount, 0, len(channels))
	for _, ch := range channels {
		if !protocol.ValidChannel(ch) {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "invalid channel name %q", ch)
		}
		if Reserved(ch) {
			return nil, errReserved
		}
		read, err := h.positions(ctx, ch, mapRead, user)
		if err != nil {
			return nil, err
		}
		hist, err := h.broker.History(ctx, ch, herald.HistoryRequest{})
		if err != nil {
			return nil, err
		}
		u := UnreadCount{Channel: ch, Head: hist.Head, ReadSeq: read[user]}
		if u.Head > u.ReadSeq {
			u.Unread = u.Head - u.ReadSeq
		}
		out = append(out, u)
	}
	return out, nil
}
