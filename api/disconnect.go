package api

import (
	"net/http"

	"github.com/heraldrt/herald/protocol"
)

// DisconnectRequest is the body of POST /api/disconnect. UserID or
// ConnectionID (or both) must be set.
type DisconnectRequest struct {
	// UserID closes every connection of the user on this node.
	UserID string `json:"userId,omitempty"`
	// ConnectionID closes one connection (with UserID too, only if it is
	// that user's).
	ConnectionID string `json:"connectionId,omitempty"`
	// Reconnect closes with 1012 (service restart), which clients answer
	// by reconnecting with backoff: to move them, or to make them fetch a
	// new token with new permissions. Otherwise the close is 4003
	// (forbidden), which tells clients to stay away until they have a new
	// token: to ban, or to log out.
	Reconnect bool `json:"reconnect,omitempty"`
	// Reason is the close frame's reason text, at most MaxCloseReason
	// bytes of UTF-8. Empty means the close code's standard text.
	Reason string `json:"reason,omitempty"`
}

// DisconnectResponse says how many connections were closed on the node
// that answered, and whether the other nodes of the cluster were told to
// close theirs. Zero is not an error: the user may have gone already, and
// a retry of a disconnect must not fail.
type DisconnectResponse struct {
	Disconnected int `json:"disconnected"`
	// Cluster is true when the node shares its broker with other nodes
	// and has told them; they close their matching connections within
	// moments.
	Cluster bool `json:"cluster"`
}

// disconnect serves POST /api/disconnect, on this node's connections.
func (a *handler) disconnect(w http.ResponseWriter, r *http.Request) error {
	var req DisconnectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.UserID == "" && req.ConnectionID == "" {
		return errorf(protocol.CodeBadRequest, "userId or connectionId is required")
	}
	// The reason is valid UTF-8, as a close frame's must be (RFC 6455,
	// 5.5.1): encoding/json replaced any invalid byte. Its length is
	// checked here so that the transport does not cut it mid-rune.
	if len(req.Reason) > MaxCloseReason {
		return errorf(protocol.CodeTooLarge, "reason longer than %d bytes, which is what a close frame holds", MaxCloseReason)
	}
	code := protocol.CloseForbidden
	if req.Reconnect {
		code = protocol.CloseServiceRestart
	}
	reason := req.Reason
	if reason == "" {
		reason = protocol.CloseCodes[code]
	}
	n, cluster, err := a.hub.Disconnect(r.Context(), req.UserID, req.ConnectionID, code, reason)
	if err != nil {
		// The local connections are closed; the other nodes were not
		// told. A retry is safe: a disconnect is idempotent.
		return err
	}
	writeJSON(w, http.StatusOK, DisconnectResponse{Disconnected: n, Cluster: cluster})
	return nil
}
