package api

import (
	"net/http"

	"github.com/heraldrt/herald/hub"
)

// InfoResponse describes the node that answers (its version, its uptime)
// and the cluster: a few of the hub's counters summed over the nodes
// sharing the broker that answered in time, or this node's alone with
// ?scope=node (the rest of the counters are at each node's /metrics).
type InfoResponse struct {
	Version       string `json:"version"`
	UptimeSeconds int64  `json:"uptimeSeconds"`
	// Connections are open sessions; Authenticated those past auth_ok.
	Connections   int64 `json:"connections"`
	Authenticated int64 `json:"authenticated"`
	Subscriptions int64 `json:"subscriptions"`
	// Channels sums each node's channels with local subscribers: a
	// channel with subscribers on two nodes counts twice.
	Channels int64 `json:"channels"`
	// MessagesIn counts publishes stored since each node started,
	// duplicates not counted; MessagesOut counts message frames written
	// to subscribers.
	MessagesIn  uint64 `json:"messagesIn"`
	MessagesOut uint64 `json:"messagesOut"`
	// Nodes is the number of nodes sharing the broker and Answered how
	// many of them the counters cover, both counting the node that
	// answers (1 and 1 with ?scope=node).
	Nodes    int `json:"nodes"`
	Answered int `json:"answered"`
}

// info serves GET /api/info.
func (a *handler) info(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "scope")
	if err != nil {
		return err
	}
	nodeOnly, err := q.nodeScope()
	if err != nil {
		return err
	}
	var s hub.ClusterStats
	if nodeOnly {
		s = a.hub.NodeStats()
	} else if s, err = a.hub.ClusterStats(r.Context()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, InfoResponse{
		Version:       a.cfg.Version,
		UptimeSeconds: max(0, int64(a.cfg.Clock.Now().Sub(a.cfg.Start).Seconds())),
		Connections:   s.Connections,
		Authenticated: s.Authenticated,
		Subscriptions: s.Subscriptions,
		Channels:      s.Channels,
		MessagesIn:    s.MessagesIn,
		MessagesOut:   s.MessagesOut,
		Nodes:         s.Nodes,
		Answered:      s.Answered,
	})
	return nil
}
