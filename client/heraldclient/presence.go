package heraldclient

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// PresenceMember is one user present in a channel: their user id, how
// many of their connections are subscribed, and their token's info claim.
type PresenceMember = protocol.PresenceMember

// PresenceState is who is in a channel.
type PresenceState struct {
	Channel string
	// Count is how many users are present, on every node.
	Count int
	// Members are the present users sorted by id. When Listed is false
	// the channel has more users than the server lists
	// (presence_max_members) and Members is empty: Count is all there is.
	Members []PresenceMember
	Listed  bool
}

// PresenceEvent is a change of a watched channel's presence (see
// SubscribeOptions.Presence).
type PresenceEvent struct {
	Channel string
	// Count is how many users are present now.
	Count int
	// State is set when the event gives the whole member list, in
	// Members: the first event of a subscription, the first after each
	// reconnect, and when a channel listed by count only became small
	// enough to list. The app replaces what it had.
	State   bool
	Members []PresenceMember
	// Joins and Leaves are the users who came and went since the last
	// event, when State is not set.
	Joins  []PresenceMember
	Leaves []string
}

// TypingNotice says that a user is typing in a subscribed channel.
type TypingNotice struct {
	Channel string
	UserID  string
	// Until is when to stop showing the user as typing, unless another
	// notice or a message from them comes first.
	Until time.Time
}

// eventBuffer is the capacity of a subscription's presence and typing
// event channels.
const eventBuffer = 64

// Presence returns the channel's presence as the client last heard it,
// for a subscription made with SubscribeOptions.Presence; the zero state
// otherwise.
func (s *Subscription) Presence() PresenceState {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := PresenceState{Channel: s.channel, Count: s.presCount, Listed: s.listed}
	for _, m := range s.members {
		st.Members = append(st.Members, m)
	}
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].UserID < st.Members[j].UserID })
	return st
}

// PresenceEvents returns the subscription's presence changes, for a
// subscription made with SubscribeOptions.Presence. Events are live
// state, not a log: if the app does not take them, the oldest are
// dropped, and Presence stays exact.
func (s *Subscription) PresenceEvents() <-chan PresenceEvent { return s.presCh }

// TypingNotices returns the typing notices of the channel's other users.
// If the app does not take them they are dropped; Typing stays exact.
func (s *Subscription) TypingNotices() <-chan TypingNotice { return s.typCh }

// Typing returns the users typing in the channel now, sorted.
func (s *Subscription) Typing() []string {
	c := s.c
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for u, until := range s.typists {
		if now.Before(until) {
			out = append(out, u)
		} else {
			delete(s.typists, u)
		}
	}
	sort.Strings(out)
	return out
}

// SendTyping tells the channel's other subscribers that this user is
// typing. Call it as the user types; the server passes on one notice per
// second or so and drops the rest. Between connections it returns
// ErrNotConnected: a typing notice is not worth queueing.
func (s *Subscription) SendTyping() error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case s.ended:
		return ErrUnsubscribed
	case c.conn == nil || !s.live:
		return ErrNotConnected
	}
	c.conn.send(encode(&protocol.Frame{Type: protocol.TypeTyping, Channel: s.channel}))
	return nil
}

// Presence asks the server who is in channel. The client need not be
// subscribed to it, but needs the right to subscribe. It is a request
// like History: sent on connect, sent again after a reconnect, bounded by
// ctx.
func (c *Client) Presence(ctx context.Context, channel string) (*PresenceState, error) {
	if !protocol.ValidChannel(channel) {
		return nil, &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("invalid channel name %q", channel)}
	}
	f, err := c.request(ctx, &protocol.Frame{Type: protocol.TypePresence, Channel: channel})
	if err != nil {
		return nil, err
	}
	return &PresenceState{Channel: f.Channel, Count: f.Count, Members: f.Members, Listed: f.Members != nil}, nil
}

// handlePresenceState takes a watched subscription's first presence
// frame, or answers a presence query; c.mu must be held.
func (c *Client) handlePresenceState(f *protocol.Frame) {
	if f.ID != "" {
		c.answer(f)
		return
	}
	sub := c.subs[f.Channel]
	if sub == nil || !sub.watch || !sub.live {
		return
	}
	sub.members = make(map[string]PresenceMember, len(f.Members))
	for _, m := range f.Members {
		sub.members[m.UserID] = m
	}
	sub.presCount, sub.listed = f.Count, f.Members != nil
	sub.emitPresence(PresenceEvent{Channel: f.Channel, Count: f.Count, State: true, Members: f.Members})
}

// handlePresenceDiff applies a presence_diff; c.mu must be held.
func (c *Client) handlePresenceDiff(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || !sub.watch || !sub.live || sub.members == nil {
		return
	}
	for _, m := range f.Joins {
		sub.members[m.UserID] = m
	}
	for _, u := range f.Leaves {
		delete(sub.members, u)
	}
	sub.presCount = f.Count
	if len(f.Joins) == 0 && len(f.Leaves) == 0 && sub.listed && f.Count != len(sub.members) {
		// Too many to list from now on.
		clear(sub.members)
		sub.listed = false
	}
	sub.emitPresence(PresenceEvent{Channel: f.Channel, Count: f.Count, Joins: f.Joins, Leaves: f.Leaves})
}

// handleTypingNotice records a typing user; c.mu must be held.
func (c *Client) handleTypingNotice(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || !sub.live || f.UserID == "" {
		return
	}
	n := TypingNotice{Channel: f.Channel, UserID: f.UserID, Until: time.Now().Add(time.Duration(f.TTL) * time.Millisecond)}
	sub.typists[f.UserID] = n.Until
	select {
	case sub.typCh <- n:
	default:
	}
}

// emitPresence passes ev on; c.mu must be held.
func (s *Subscription) emitPresence(ev PresenceEvent) { sendLatest(s.presCh, ev) }

// sendLatest sends v on ch without blocking, dropping the oldest value
// when ch is full: for live state, where the newest matters most. The
// sender must be the only one, as each subscription's are (under c.mu).
func sendLatest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
