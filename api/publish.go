package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/protocol"
)

// PublishRequest is the body of POST /api/publish.
type PublishRequest struct {
	Channel string `json:"channel"`
	// Event is the app's event name, as in a publish frame.
	Event string `json:"event,omitempty"`
	// Payload is any JSON value, null included; it is required but with
	// op delete.
	Payload json.RawMessage `json:"payload"`
	// IdempotencyKey makes retries safe: a publish with a key already
	// used on the channel within the dedupe window is not stored again
	// and gets the first answer, with Duplicate set. Empty means a fresh
	// one.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Op, "edit" or "delete", makes the publish an op entry that changes
	// the message at seq Ref (wire name "target"), whoever wrote it: an edit's payload
	// replaces the message's. The message must still be retained
	// (not_found) and not be an op entry itself (bad_request).
	Op  string `json:"op,omitempty"`
	Ref uint64 `json:"target,omitempty"`
}

// PublishResponse answers a publish with what the WebSocket ack carries,
// plus whether it was a retry.
type PublishResponse struct {
	// ID is the idempotency key, generated when the request had none.
	ID        string `json:"id"`
	Channel   string `json:"channel"`
	Seq       uint64 `json:"seq"`
	Timestamp int64  `json:"timestamp"`
	// Duplicate reports a retry answered from the dedupe index: nothing
	// was stored or delivered, and Seq and Timestamp are the first one's.
	Duplicate bool `json:"duplicate"`
}

// BroadcastRequest is the body of POST /api/broadcast: one message for
// several channels.
type BroadcastRequest struct {
	// Channels are 1 to MaxBroadcastChannels distinct names.
	Channels []string        `json:"channels"`
	Event    string          `json:"event,omitempty"`
	Payload  json.RawMessage `json:"payload"`
	// IdempotencyKey is used on every channel, so retrying a broadcast
	// publishes only to the channels the first attempt missed.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// BroadcastResponse answers a broadcast, one result per channel in the
// order of the request.
type BroadcastResponse struct {
	ID      string            `json:"id"`
	Results []BroadcastResult `json:"results"`
}

// BroadcastResult is the outcome on one channel: Seq, Timestamp and
// Duplicate as in PublishResponse, or Error.
type BroadcastResult struct {
	Channel   string
	Seq       uint64
	Timestamp int64
	Duplicate bool
	Error     *Error
}

// MarshalJSON writes either the success fields or the error, never a mix,
// so that a client tells them apart by the presence of "error".
func (r BroadcastResult) MarshalJSON() ([]byte, error) {
	var v any = struct {
		Channel   string `json:"channel"`
		Seq       uint64 `json:"seq"`
		Timestamp int64  `json:"timestamp"`
		Duplicate bool   `json:"duplicate"`
	}{r.Channel, r.Seq, r.Timestamp, r.Duplicate}
	if r.Error != nil {
		v = struct {
			Channel string `json:"channel"`
			Error   *Error `json:"error"`
		}{r.Channel, r.Error}
	}
	// As in writeJSON: no HTML escaping of messages.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// publish serves POST /api/publish. Backend-only namespaces take it: the
// backend is their publisher.
func (a *handler) publish(w http.ResponseWriter, r *http.Request) error {
	var req PublishRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := checkMessage(req.IdempotencyKey, req.Event, req.Payload, req.Op, req.Ref); err != nil {
		return err
	}
	res, id, err := a.hub.Publish(r.Context(), hub.BackendPublish{
		Channel: req.Channel, Event: req.Event, ID: req.IdempotencyKey, Payload: req.Payload,
		Op: req.Op, Ref: req.Ref,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, PublishResponse{
		ID: id, Channel: req.Channel, Seq: res.Seq, Timestamp: res.Time, Duplicate: res.Duplicate,
	})
	return nil
}

// broadcast serves POST /api/broadcast. What is wrong with the request as
// a whole (no payload, a bad event) fails it with one error; what is
// wrong with one channel (its name, its namespace's size limit, a store
// failure) is that channel's result, and the others go ahead.
func (a *handler) broadcast(w http.ResponseWriter, r *http.Request) error {
	var req BroadcastRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch n := len(req.Channels); {
	case n == 0:
		return errorf(protocol.CodeBadRequest, "channels must name at least one channel")
	case n > MaxBroadcastChannels:
		return errorf(protocol.CodeTooLarge, "%d channels; a broadcast takes at most %d", n, MaxBroadcastChannels)
	}
	// A channel named twice would get the same idempotency key twice in
	// one batch: refuse it rather than answer it with a duplicate.
	seen := make(map[string]struct{}, len(req.Channels))
	for _, ch := range req.Channels {
		if _, dup := seen[ch]; dup {
			return errorf(protocol.CodeBadRequest, "channel %q is named more than once", truncate(ch, protocol.MaxChannelLen))
		}
		seen[ch] = struct{}{}
	}
	if err := checkMessage(req.IdempotencyKey, req.Event, req.Payload, "", 0); err != nil {
		return err
	}
	resps, id := a.hub.Broadcast(r.Context(), req.Channels, hub.BackendPublish{
		Event: req.Event, ID: req.IdempotencyKey, Payload: req.Payload,
	})
	out := BroadcastResponse{ID: id, Results: make([]BroadcastResult, len(resps))}
	for i, resp := range resps {
		res := BroadcastResult{Channel: req.Channels[i]}
		if resp.Err != nil {
			e, fault := toError(resp.Err)
			if fault {
				a.log.Error("api: broadcast to a channel failed", "channel", res.Channel, "err", resp.Err)
			}
			res.Error = e
		} else {
			res.Seq, res.Timestamp, res.Duplicate = resp.Seq, resp.Time, resp.Duplicate
		}
		out.Results[i] = res
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkMessage checks what a publish and a broadcast share, by the
// protocol's rules for a publish frame, so that both transports refuse
// the same input with the same code.
func checkMessage(idempotencyKey, event string, payload json.RawMessage, op string, ref uint64) error {
	if len(payload) == 0 && op != protocol.OpDelete {
		return errorf(protocol.CodeBadRequest, "payload is required (any JSON value; null is one)")
	}
	if len(idempotencyKey) > protocol.MaxIDLen {
		return errorf(protocol.CodeTooLarge, "idempotencyKey longer than %d bytes", protocol.MaxIDLen)
	}
	if !protocol.ValidID(idempotencyKey) {
		return errorf(protocol.CodeBadRequest, "idempotencyKey must be printable ASCII without quotes or backslashes")
	}
	// The frame's id and channel are stand-ins: the key is checked above
	// (and may be absent here), the channels by the hub, one by one.
	f := protocol.Frame{Type: protocol.TypePublish, ID: "x", Channel: "x", Event: event, Payload: payload, Op: op, Target: ref}
	if perr := f.ValidateClient(); perr != nil {
		return perr
	}
	return nil
}

var _ json.Marshaler = BroadcastResult{}
