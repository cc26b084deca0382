package api

import (
	"net/http"

	"github.com/heraldrt/herald/protocol"
)

// MaxUnreadChannels is the most channels one unread request may name.
const MaxUnreadChannels = 1000

// ReceiptsResponse is every user's delivered and read position in a
// channel: the seq up to which their clients reported the messages
// received, and read. Positions never move back.
type ReceiptsResponse struct {
	Channel string `json:"channel"`
	// Delivered and Read map user ids to seqs; users without a position
	// are absent.
	Delivered map[string]uint64 `json:"delivered"`
	Read      map[string]uint64 `json:"read"`
}

// receipts serves GET /api/receipts.
func (a *handler) receipts(w http.ResponseWriter, r *http.Request) error {
	channel, err := channelOnly(r.URL.RawQuery)
	if err != nil {
		return err
	}
	delivered, read, err := a.hub.Receipts(r.Context(), channel)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ReceiptsResponse{Channel: channel, Delivered: delivered, Read: read})
	return nil
}

// UnreadRequest is the body of POST /api/unread.
type UnreadRequest struct {
	UserID   string   `json:"userId"`
	Channels []string `json:"channels"`
}

// UnreadResponse is a user's unread count in each channel asked for, in
// the order asked.
type UnreadResponse struct {
	UserID   string          `json:"userId"`
	Channels []UnreadChannel `json:"channels"`
}

// UnreadChannel is a user's position in one channel.
type UnreadChannel struct {
	Channel string `json:"channel"`
	// Head is the channel's newest seq, ReadSeq the user's read position
	// (0 when they have read nothing), Unread the messages after it.
	Head    uint64 `json:"head"`
	ReadSeq uint64 `json:"readSeq"`
	Unread  uint64 `json:"unread"`
}

// unread serves POST /api/unread: the badge counts of a user's channels,
// for a push notification or a channel list.
func (a *handler) unread(w http.ResponseWriter, r *http.Request) error {
	var req UnreadRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch {
	case req.UserID == "":
		return errorf(protocol.CodeBadRequest, "userId is required")
	case len(req.Channels) == 0:
		return errorf(protocol.CodeBadRequest, "channels is required")
	case len(req.Channels) > MaxUnreadChannels:
		return errorf(protocol.CodeTooLarge, "at most %d channels per request", MaxUnreadChannels)
	}
	for _, ch := range req.Channels {
		if err := validChannel(ch); err != nil {
			return err
		}
	}
	counts, err := a.hub.Unread(r.Context(), req.UserID, req.Channels)
	if err != nil {
		return err
	}
	out := UnreadResponse{UserID: req.UserID, Channels: make([]UnreadChannel, len(counts))}
	for i, c := range counts {
		out.Channels[i] = UnreadChannel{Channel: c.Channel, Head: c.Head, ReadSeq: c.ReadSeq, Unread: c.Unread}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
