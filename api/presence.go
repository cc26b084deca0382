package api

import (
	"encoding/json"
	"net/http"
)

// PresenceResponse lists the users subscribed to a channel.
type PresenceResponse struct {
	Channel string `json:"channel"`
	// Members are sorted by user id; empty, not null, when nobody is
	// subscribed.
	Members []Member `json:"members"`
}

// Member is one user subscribed to the channel.
type Member struct {
	UserID string `json:"userId"`
	// Connections counts the user's connections subscribed to the
	// channel.
	Connections int `json:"connections"`
	// Info is the token's info claim, if it had one.
	Info json.RawMessage `json:"info,omitempty"`
}

// presence serves GET /api/presence: the users subscribed on every node
// when nodes share a broker, else on this node.
func (a *handler) presence(w http.ResponseWriter, r *http.Request) error {
	channel, err := channelOnly(r.URL.RawQuery)
	if err != nil {
		return err
	}
	// The wire types are the API's own, not the hub's, so that a change in
	// the hub cannot change the documented format by accident.
	members, err := a.hub.Presence(r.Context(), channel)
	if err != nil {
		return err
	}
	out := PresenceResponse{Channel: channel, Members: make([]Member, len(members))}
	for i, m := range members {
		out.Members[i] = Member{UserID: m.UserID, Connections: m.Connections, Info: m.Info}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
