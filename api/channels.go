package api

import (
	"net/http"

	"github.com/heraldrt/herald/protocol"
)

// ChannelsResponse is a page of the channels with subscribers on this
// node, sorted by name.
type ChannelsResponse struct {
	// Channels is empty, not null, when none match.
	Channels []ChannelInfo `json:"channels"`
	// Next is the query for the next page; nil on the last one.
	Next *NameAfter `json:"next,omitempty"`
}

// ChannelInfo is a channel and its number of subscriptions on this node.
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
	q, err := parseQuery(r.URL.RawQuery, "prefix", "after", "limit")
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
	list := a.hub.Channels(prefix, after, limit+1)
	var out ChannelsResponse
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
