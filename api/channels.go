package api

import (
	"net/http"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/protocol"
)

// ChannelsResponse is a page of the channels with subscribers on any node
// sharing the broker (on the node that answers with ?scope=node), sorted
// by name.
type ChannelsResponse struct {
	// Channels is empty, not null, when none match.
	Channels []ChannelInfo `json:"channels"`
	// Next is the query for the next page; nil on the last one.
	Next *NameAfter `json:"next,omitempty"`
	// Nodes is the number of nodes sharing the broker and Answered how
	// many of them the page covers, both counting the node that answers:
	// a node that did not answer in time makes Answered < Nodes, and the
	// page lacks its channels and subscriptions. With ?scope=node both
	// are 1.
	Nodes    int `json:"nodes"`
	Answered int `json:"answered"`
}

// ChannelInfo is a channel and its number of subscriptions, summed over
// the nodes that answered.
type ChannelInfo struct {
	Name        string `json:"name"`
	Subscribers int    `json:"subscribers"`
}

// NameAfter is a channels cursor: ?after=After.
type NameAfter struct {
	After string `json:"after"`
}

// channels serves GET /api/channels.
func (a *handler) channels(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "prefix", "after", "limit", "scope")
	if err != nil {
		return err
	}
	nodeOnly, err := q.nodeScope()
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	prefix, after := q.str("prefix"), q.str("after")
	if len(prefix) > protocol.MaxChannelLen || len(after) > protocol.MaxChannelLen {
		return errorf(protocol.CodeBadRequest, "prefix and after are at most %d bytes, as channel names are", protocol.MaxChannelLen)
	}
	// One more than the page tells whether another page follows.
	var out ChannelsResponse
	var list []hub.ChannelInfo
	if nodeOnly {
		list, out.Nodes, out.Answered = a.hub.Channels(prefix, after, limit+1), 1, 1
	} else if list, out.Nodes, out.Answered, err = a.hub.ClusterChannels(r.Context(), prefix, after, limit+1); err != nil {
		return err
	}
	if len(list) > limit {
		list = list[:limit]
		out.Next = &NameAfter{After: list[limit-1].Name}
	}
	out.Channels = make([]ChannelInfo, len(list))
	for i, c := range list {
		out.Channels[i] = ChannelInfo{Name: c.Name, Subscribers: c.Subscribers}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
