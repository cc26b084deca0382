package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// The methods in this file serve the app backend (the server API): they
// act with the backend's authority, so tokens and BackendOnly do not
// apply, while channel names, ids and payload limits do. Input errors are
// *protocol.Error values, whose codes the API maps to HTTP statuses.

// BackendPublish is a publish from the app backend.
type BackendPublish struct {
	Channel string
	Event   string
	// ID is the idempotency key: a retry with the same ID on the same
	// channel within the dedupe window gets the first result again.
	// Empty means a fresh one.
	ID      string
	Payload json.RawMessage
	// Op and Ref, when set, make the publish an op entry that changes the
	// message at seq Ref: protocol.OpEdit or protocol.OpDelete (reactions
	// are users', not the backend's). The backend may change any message,
	// whoever its author. Payload may be empty for a delete.
	Op  string
	Ref uint64
}

// Publish publishes one message for the app backend and returns what a
// client's ack would carry.
func (h *Hub) Publish(ctx context.Context, p BackendPublish) (herald.PublishResult, string, error) {
	pub, perr := h.backendPublication(p.Channel, &p)
	if perr != nil {
		return herald.PublishResult{}, "", perr
	}
	res, err := h.broker.Publish(ctx, p.Channel, pub)
	if err == nil {
		h.countPublish(res)
	}
	return res, pub.ID, err
}

// Broadcast publishes one message to several channels, each with the same
// idempotency key, and returns one response per channel, in order. Input
// errors of one channel are that channel's response.
func (h *Hub) Broadcast(ctx context.Context, channels []string, p BackendPublish) ([]herald.PublishResponse, string) {
	if p.ID == "" {
		p.ID = newPublishID()
	}
	out := make([]herald.PublishResponse, len(channels))
	if p.Op != "" || p.Ref != 0 {
		// An op changes one message, of one channel.
		for i := range out {
			out[i].Err = &protocol.Error{Code: protocol.CodeBadRequest, Message: "a broadcast carries no op"}
		}
		return out, p.ID
	}
	var reqs []herald.PublishRequest
	var at []int
	for i, ch := range channels {
		pub, perr := h.backendPublication(ch, &p)
		if perr != nil {
			out[i].Err = perr
			continue
		}
		reqs = append(reqs, herald.PublishRequest{Channel: ch, Publication: pub})
		at = append(at, i)
	}
	if batcher, ok := h.broker.(herald.BatchPublisher); ok {
		for j, r := range batcher.PublishBatch(ctx, reqs) {
			out[at[j]] = r
		}
	} else {
		for j, r := range reqs {
			res, err := h.broker.Publish(ctx, r.Channel, r.Publication)
			out[at[j]] = herald.PublishResponse{PublishResult: res, Err: err}
		}
	}
	for _, r := range out {
		if r.Err == nil {
			h.countPublish(r.PublishResult)
		}
	}
	return out, p.ID
}

func (h *Hub) countPublish(res herald.PublishResult) {
	if res.Duplicate {
		h.Stats.Duplicates.Add(1)
	} else {
		h.Stats.MessagesIn.Add(1)
	}
}

// backendPublication checks a backend publish to channel and returns the
// publication to store.
func (h *Hub) backendPublication(channel string, p *BackendPublish) (*herald.Publication, *protocol.Error) {
	if Reserved(channel) {
		return nil, errReserved
	}
	if protocol.Namespace(channel) == StatusNamespace {
		return nil, errStatusWrite
	}
	if p.ID == "" {
		p.ID = newPublishID()
	}
	f := protocol.Frame{Type: protocol.TypePublish, ID: p.ID, Channel: channel, Event: p.Event, Payload: p.Payload, Op: p.Op, Target: p.Ref}
	if perr := f.ValidateClient(); perr != nil {
		return nil, perr
	}
	if p.Op == protocol.OpReact || p.Op == protocol.OpUnreact {
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Message: "reactions are users' own: the server API edits and deletes"}
	}
	if len(p.Payload) > 0 && !json.Valid(p.Payload) {
		return nil, &protocol.Error{Code: protocol.CodeBadRequest, Message: "payload is not valid JSON"}
	}
	if max := h.cfg.Namespaces.Lookup(channel).MaxMessageSize; max > 0 && len(p.Payload) > max {
		return nil, protocol.Errorf(protocol.CodeTooLarge, "payload of %d bytes; this namespace takes at most %d", len(p.Payload), max)
	}
	pub := &herald.Publication{ID: p.ID, Event: p.Event, Payload: p.Payload, Op: p.Op, Ref: p.Ref}
	if pub.Op != "" {
		if perr := h.admitOp(channel, pub, false); perr != nil {
			return nil, perr
		}
	}
	return pub, nil
}

func newPublishID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// History reads a range of a channel's history, for the app backend and
// for the history frame, which checked the client's permission, with each
// message as it stands now: op entries are applied to the messages they
// change (see fold.go), and returned too, at their own seqs. A namespace
// without history keeps nothing: its history is the stream position
// alone, with nothing retained (Oldest is Head+1), whatever the broker
// still holds from before the namespace lost its history.
func (h *Hub) History(ctx context.Context, channel string, req herald.HistoryRequest) (Page, error) {
	if !protocol.ValidChannel(channel) {
		return Page{}, &protocol.Error{Code: protocol.CodeBadRequest, Message: "invalid channel name"}
	}
	if Reserved(channel) {
		return Page{}, errReserved
	}
	noHistory := h.cfg.Namespaces.Lookup(channel).NoHistory
	if noHistory {
		req.Limit = 0
	}
	rctx, cancel := context.WithTimeout(ctx, historyTimeout)
	hist, err := h.broker.History(rctx, channel, req)
	cancel()
	if err != nil {
		return Page{}, err
	}
	if noHistory {
		hist.Oldest = hist.Head + 1
	}
	msgs, err := h.newFolder(channel).fold(ctx, hist.Publications, hist.Head)
	if err != nil {
		return Page{}, err
	}
	return Page{Messages: msgs, Head: hist.Head, Oldest: hist.Oldest}, nil
}

// Disconnect closes the connections of userID, or the one connection with
// connectionID (either may be empty, not both), with code and reason. It
// returns how many it closed on this node, and whether it told the other
// nodes sharing the broker to do the same; an error means they could not
// be told (the local connections are closed regardless), and a retry is
// safe.
func (h *Hub) Disconnect(ctx context.Context, userID, connectionID string, code int, reason string) (n int, cluster bool, err error) {
	n = h.disconnectLocal(userID, connectionID, code, reason)
	if !h.clustered() {
		return n, false, nil
	}
	err = h.tellPeers(ctx, control{Op: opDisconnect, UserID: userID, ConnectionID: connectionID, Code: code, Reason: reason})
	return n, err == nil, err
}

// disconnectLocal closes the matching connections on this node.
func (h *Hub) disconnectLocal(userID, connectionID string, code int, reason string) int {
	var victims []*Session
	h.sessMu.Lock()
	for _, s := range h.sessions {
		if connectionID != "" && s.ID() != connectionID {
			continue
		}
		s.mu.Lock()
		match := s.identity != nil && !s.closed && (userID == "" || s.identity.UserID == userID)
		s.mu.Unlock()
		if match {
			victims = append(victims, s)
		}
	}
	h.sessMu.Unlock()
	for _, s := range victims {
		s.close(code, reason)
	}
	return len(victims)
}

// ChannelInfo is a channel with subscribers on this node.
type ChannelInfo struct {
	Name        string `json:"name"`
	Subscribers int    `json:"subscribers"`
}

// Channels lists the channels with subscribers on this node whose names
// start with prefix, sorted by name, after the name after (for paging),
// at most limit of them.
func (h *Hub) Channels(prefix, after string, limit int) []ChannelInfo {
	h.mu.RLock()
	var out []ChannelInfo
	for name, c := range h.channels {
		if !strings.HasPrefix(name, prefix) || name <= after {
			continue
		}
		c.mu.Lock()
		n := len(c.subs)
		c.mu.Unlock()
		out = append(out, ChannelInfo{Name: name, Subscribers: n})
	}
	h.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
