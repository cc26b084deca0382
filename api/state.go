package api

import (
	"encoding/json"
	"net/http"

	"github.com/heraldrt/herald/protocol"
)

// StateRequest is the body of POST /api/state: one key of a channel's
// state.
type StateRequest struct {
	Channel string `json:"channel"`
	Key     string `json:"key"`
	// Value is any JSON value; null removes the key. It is required.
	Value json.RawMessage `json:"value"`
	// IdempotencyKey makes retries safe, as in a publish.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// StateResponse is a channel's state: each key's latest value and the
// seq of the write that set it.
type StateResponse struct {
	Channel string                         `json:"channel"`
	Entries map[string]protocol.StateEntry `json:"entries"`
}

// setState serves POST /api/state: answered like a publish, since a state
// write is an entry of the channel's log.
func (a *handler) setState(w http.ResponseWriter, r *http.Request) error {
	var req StateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := validChannel(req.Channel); err != nil {
		return err
	}
	if len(req.Value) == 0 {
		return errorf(protocol.CodeBadRequest, "value is required (null removes the key)")
	}
	res, id, err := a.hub.SetState(r.Context(), req.Channel, req.Key, req.Value, req.IdempotencyKey)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, PublishResponse{ID: id, Channel: req.Channel, Seq: res.Seq, Timestamp: res.Time, Duplicate: res.Duplicate})
	return nil
}

// state serves GET /api/state.
func (a *handler) state(w http.ResponseWriter, r *http.Request) error {
	channel, err := channelOnly(r.URL.RawQuery)
	if err != nil {
		return err
	}
	entries, err := a.hub.State(r.Context(), channel)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, StateResponse{Channel: channel, Entries: entries})
	return nil
}
