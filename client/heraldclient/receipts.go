package heraldclient

import (
	"maps"
	"slices"

	"github.com/heraldrt/herald/protocol"
)

// ReceiptsEvent is a change of users' positions in a channel subscribed
// with SubscribeOptions.Receipts: the seq up to which each user's clients
// received (Delivered) and read (Read) the channel. The first event of a
// subscription, and the first after each reconnect, holds every known
// position; later ones hold those that moved.
type ReceiptsEvent struct {
	Channel   string
	Delivered map[string]uint64
	Read      map[string]uint64
}

// MarkDelivered reports that this user's client received the channel's
// messages up to seq; MarkRead that the user read them (which counts as
// delivered too). Report the newest message, not each one: positions only
// grow, and the server passes them on once a second or so. Between
// connections the report waits and is sent on reconnect. seq must not be
// past the last message the subscription delivered.
func (s *Subscription) MarkDelivered(seq uint64) error { return s.mark(seq, protocol.ReceiptDelivered) }

// MarkRead: see MarkDelivered.
func (s *Subscription) MarkRead(seq uint64) error { return s.mark(seq, protocol.ReceiptRead) }

func (s *Subscription) mark(seq uint64, status string) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.ended {
		return ErrUnsubscribed
	}
	sent := &s.sentDelivered
	if status == protocol.ReceiptRead {
		sent = &s.sentRead
		s.sentDelivered = max(s.sentDelivered, seq)
	}
	if seq <= *sent {
		return nil
	}
	*sent = seq
	if c.conn != nil && s.live {
		c.conn.send(encode(&protocol.Frame{Type: protocol.TypeReceipt, Channel: s.channel, Seq: seq, Status: status}))
	}
	return nil
}

// resendReceipts sends, on a new connection's subscribed, the positions
// this client reported that the server may not have kept; c.mu must be
// held.
func (c *Client) resendReceipts(sub *Subscription, f *protocol.Frame) {
	sub.readSeq, sub.unread = f.ReadSeq, f.Unread
	if sub.sentRead > f.ReadSeq && sub.sentRead <= sub.lastSeq {
		c.conn.send(encode(&protocol.Frame{Type: protocol.TypeReceipt, Channel: sub.channel, Seq: sub.sentRead, Status: protocol.ReceiptRead}))
	}
	if sub.sentDelivered > sub.sentRead && sub.sentDelivered <= sub.lastSeq {
		c.conn.send(encode(&protocol.Frame{Type: protocol.TypeReceipt, Channel: sub.channel, Seq: sub.sentDelivered, Status: protocol.ReceiptDelivered}))
	}
}

// Unread returns the user's read position and unread count as of the
// last time the server confirmed the subscription (with
// SubscribeOptions.Receipts): the badge to show before anything is read.
func (s *Subscription) Unread() (readSeq, unread uint64) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.readSeq, s.unread
}

// Receipts returns every user's delivered and read positions as last
// heard, for a subscription with SubscribeOptions.Receipts.
func (s *Subscription) Receipts() (delivered, read map[string]uint64) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return maps.Clone(s.delivered), maps.Clone(s.read)
}

// ReadBy returns the users who have read the message seq, as last
// heard, sorted: "read by N" is its length.
func (s *Subscription) ReadBy(seq uint64) []string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return reached(s.read, seq)
}

// DeliveredTo returns the users whose clients have received the message
// seq, as last heard, sorted: the message is "delivered to all" when it
// holds every member (Presence, or the app's member list).
func (s *Subscription) DeliveredTo(seq uint64) []string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return reached(s.delivered, seq)
}

// reached returns the users whose position is seq or later, sorted.
func reached(positions map[string]uint64, seq uint64) []string {
	var out []string
	for u, p := range positions {
		if p >= seq {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// ReceiptEvents returns the position changes of a subscription with
// SubscribeOptions.Receipts. If the app does not take them, the oldest
// are dropped; Receipts stays exact.
func (s *Subscription) ReceiptEvents() <-chan ReceiptsEvent { return s.rcptCh }

// handleReceipts applies a receipts frame; c.mu must be held.
func (c *Client) handleReceipts(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || !sub.receipts || !sub.live {
		return
	}
	if sub.delivered == nil {
		sub.delivered, sub.read = map[string]uint64{}, map[string]uint64{}
	}
	for u, seq := range f.Delivered {
		sub.delivered[u] = max(sub.delivered[u], seq)
	}
	for u, seq := range f.Read {
		sub.read[u] = max(sub.read[u], seq)
	}
	sendLatest(sub.rcptCh, ReceiptsEvent{Channel: f.Channel, Delivered: f.Delivered, Read: f.Read})
}
