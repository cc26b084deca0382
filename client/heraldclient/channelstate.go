package heraldclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/heraldrt/herald/protocol"
)

// OpState marks a message that is a write of the channel's state: its
// Event is the key, its Payload the value (null removes the key).
const OpState = protocol.OpState

// stateValue is a key's value as the client last heard it, with the seq
// of the write that set it; a null value is a removed key.
type stateValue struct {
	value json.RawMessage
	seq   uint64
}

// SetState sets key of channel's state to value (encoded as Publish
// encodes a payload; nil removes the key) and returns the ack of the
// write, which is an entry of the channel's log. It goes through the
// outbox like Publish, with the same retries and options. Of two writes,
// the later one in the channel's log wins.
func (c *Client) SetState(ctx context.Context, channel, key string, value any, opts ...PublishOption) (Ack, error) {
	raw, err := json.Marshal(value)
	if err != nil {
		return Ack{}, fmt.Errorf("heraldclient: encode state value: %w", err)
	}
	return c.publish(ctx, &protocol.Frame{Type: protocol.TypeStateSet, Channel: channel, Key: key, Value: raw}, opts)
}

// State returns the channel's state as last heard, for a subscription
// with SubscribeOptions.State: each key's value. Writes arrive in the
// stream as messages with Op OpState too, so an app that reads the
// stream may keep its own state from them instead.
func (s *Subscription) State() map[string]json.RawMessage {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	out := make(map[string]json.RawMessage, len(s.state))
	for k, v := range s.state {
		if string(v.value) != "null" {
			out[k] = v.value
		}
	}
	return out
}

// applyStateWrite applies a state write message; c.mu must be held.
func (s *Subscription) applyStateWrite(f *protocol.Frame) {
	if s.state == nil {
		s.state = map[string]stateValue{}
	}
	if cur, ok := s.state[f.Event]; !ok || f.Seq > cur.seq {
		s.state[f.Event] = stateValue{value: f.Payload, seq: f.Seq}
	}
}

// applyStateSnapshot takes the state as of head: it replaces what the
// client had, but for writes newer than head that it already applied;
// c.mu must be held.
func (s *Subscription) applyStateSnapshot(head uint64, entries map[string]protocol.StateEntry) {
	next := make(map[string]stateValue, len(entries))
	for k, e := range entries {
		next[k] = stateValue{value: e.Value, seq: e.Seq}
	}
	for k, v := range s.state {
		if v.seq > head && v.seq > next[k].seq {
			next[k] = v
		}
	}
	s.state = next
}

// handleState takes the state frame that follows subscribed; c.mu must be
// held.
func (c *Client) handleState(f *protocol.Frame) {
	sub := c.subs[f.Channel]
	if sub == nil || !sub.live || !sub.wantState {
		return
	}
	sub.applyStateSnapshot(f.Seq, f.Entries)
}
