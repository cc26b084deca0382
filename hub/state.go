package hub

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Channel state. A state_set is stored as an op entry of the channel's
// log (op "state", the key as its event, the value as its payload), so
// subscribers get it in order with the messages and a resuming client
// replays it; then the key's latest value is written to the channel's
// "state" map with the entry's seq as its version, so that of two writes
// the later one in the log wins, whichever node stored it last. A
// subscription with state gets the map after subscribed, and a
// snapshot_required carries it.

// mapState is the channel map of the state.
const mapState = "state"

// setState stores one state write, publication then map, and returns the
// publication's result.
func (h *Hub) setState(ctx context.Context, channel string, pub *herald.Publication) (herald.PublishResult, error) {
	m := h.maps()
	if m == nil {
		return herald.PublishResult{}, errNoMaps
	}
	key, value := pub.Event, pub.Payload
	pub.Op = protocol.OpState
	res, err := h.broker.Publish(ctx, channel, pub)
	if err != nil {
		return res, err
	}
	// A retry (a duplicate) writes the same version again, which the map
	// refuses, harmlessly: this also completes a first attempt that died
	// between the log and the map.
	if _, _, err := m.MapPut(ctx, channel, mapState, herald.MapEntry{Key: key, Version: res.Seq, Value: value}); err != nil {
		return res, err
	}
	return res, nil
}

// stateSet handles a state_set frame: with the right to publish to the
// channel, acked like a publish.
func (s *Session) stateSet(id *herald.Identity, f *protocol.Frame) {
	pf := protocol.Frame{Type: protocol.TypePublish, ID: f.ID, Channel: f.Channel, Event: f.Key, Payload: f.Value}
	pub, perr := s.admitPublish(id, &pf)
	if perr != nil {
		s.sendError(perr, f.ID, f.Channel)
		return
	}
	if !json.Valid(f.Value) {
		s.sendError(&protocol.Error{Code: protocol.CodeBadRequest, Message: "value is not valid JSON"}, f.ID, f.Channel)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	res, err := s.hub.setState(ctx, f.Channel, pub)
	cancel()
	if errors.Is(err, errNoMaps) {
		s.sendError(errNoMaps, f.ID, f.Channel)
		return
	}
	s.mu.Lock()
	s.queuePublished(&pf, res, err)
	s.flushLocked()
	s.mu.Unlock()
}

// SetState writes one key of a channel's state for the app backend; a
// null value removes the key. It returns what an ack carries.
func (h *Hub) SetState(ctx context.Context, channel, key string, value json.RawMessage, id string) (herald.PublishResult, string, error) {
	p := BackendPublish{Channel: channel, Event: key, ID: id, Payload: value}
	pub, perr := h.backendPublication(channel, &p)
	if perr != nil {
		return herald.PublishResult{}, "", perr
	}
	f := protocol.Frame{Type: protocol.TypeStateSet, ID: pub.ID, Channel: channel, Key: key, Value: value}
	if perr := f.ValidateClient(); perr != nil {
		return herald.PublishResult{}, "", perr
	}
	res, err := h.setState(ctx, channel, pub)
	if err == nil {
		h.countPublish(res)
	}
	return res, pub.ID, err
}

// State returns a channel's state: each key's value and the seq that set
// it, without the removed keys.
func (h *Hub) State(ctx context.Context, channel string) (map[string]protocol.StateEntry, error) {
	if !protocol.ValidChannel(channel) {
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Message: "invalid channel name"}
	}
	if Reserved(channel) {
		return nil, errReserved
	}
	return h.readState(ctx, channel)
}

func (h *Hub) readState(ctx context.Context, channel string) (map[string]protocol.StateEntry, error) {
	m := h.maps()
	if m == nil {
		return nil, errNoMaps
	}
	entries, err := m.MapGet(ctx, channel, mapState)
	if err != nil {
		return nil, err
	}
	out := make(map[string]protocol.StateEntry, len(entries))
	for _, e := range entries {
		if string(e.Value) == "null" {
			continue
		}
		out[e.Key] = protocol.StateEntry{Value: e.Value, Seq: e.Version}
	}
	return out, nil
}

// gatherState reads the state a subscription with state starts from,
// before its first history read. Writes after the read reach it as
// messages; the snapshot's seqs let the client skip replayed writes that
// the snapshot already holds.
func (s *Session) gatherState(sub *subscription, gen uint32) {
	ctx, cancel := context.WithTimeout(s.hub.life, historyTimeout)
	st, err := s.hub.readState(ctx, sub.channel)
	cancel()
	if err != nil {
		s.hub.log.Warn("reading channel state failed", "channel", sub.channel, "err", err)
		st = map[string]protocol.StateEntry{}
	}
	s.mu.Lock()
	if !s.stale(sub, gen) {
		sub.state = st
	}
	s.mu.Unlock()
}
