package api

import (
	"net/http"
)

// InfoResponse describes this node: its version, its uptime and a few of
// the hub's counters (the rest are at /metrics).
type InfoResponse struct {
	Version       string `json:"version"`
	UptimeSeconds int64  `json:"uptimeSeconds"`
	// Connections are open sessions; Authenticated those past auth_ok.
	Connections   int64 `json:"connections"`
	Authenticated int64 `json:"authenticated"`
	Subscriptions int64 `json:"subscriptions"`
	// Channels are the channels with subscribers on this node.
	Channels int64 `json:"channels"`
	// MessagesIn counts publishes stored since start, duplicates not
	// counted; MessagesOut counts message frames written to subscribers.
	MessagesIn  uint64 `json:"messagesIn"`
	MessagesOut uint64 `json:"messagesOut"`
}

// info serves GET /api/info.
func (a *handler) info(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseQuery(r.URL.RawQuery); err != nil {
		return err
	}
	s := &a.hub.Stats
	writeJSON(w, http.StatusOK, InfoResponse{
		Version:       a.cfg.Version,
		UptimeSeconds: max(0, int64(a.cfg.Clock.Now().Sub(a.cfg.Start).Seconds())),
		Connections:   s.Connections.Load(),
		Authenticated: s.Authenticated.Load(),
		Subscriptions: s.Subscriptions.Load(),
		Channels:      s.Channels.Load(),
		MessagesIn:    s.MessagesIn.Load(),
		MessagesOut:   s.Delivered.Load(),
	})
	return nil
}
