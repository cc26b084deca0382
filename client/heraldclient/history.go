package heraldclient

import (
	"context"
	"fmt"

	"github.com/heraldrt/herald/protocol"
)

// HistoryOptions select a page of a channel's history. The zero value
// asks for the channel's newest messages, as a chat opening a room wants.
type HistoryOptions struct {
	// After reads forward: the messages with a seq above After, the
	// oldest first. Zero reads from the start of what the server retains
	// only with Forward set; otherwise zero means After is not used.
	After uint64
	// Before, when not zero, reads backward: the newest messages with a
	// seq below Before. It cannot be combined with After or Forward.
	Before uint64
	// Forward makes After count when it is zero: the page starts at the
	// oldest message the server retains.
	Forward bool
	// Limit is the most messages the page holds. Zero means the server's
	// default (100); above the server's max_history_limit (default 1000)
	// the server answers too_large.
	Limit int
}

// HistoryPage is a page of a channel's history, with where the channel's
// log stood when it was read.
type HistoryPage struct {
	Channel string
	// Head is the seq of the newest message ever published to the
	// channel, 0 if none.
	Head uint64
	// Oldest is the seq of the oldest message the server retains, Head+1
	// if it retains none.
	Oldest uint64
	// Messages are the page's messages, oldest first in both directions,
	// without gaps. A page may hold fewer than Limit: where the log ends,
	// and when its messages are large. Page on with Next and Prev, which
	// start from the page's own edges.
	Messages []Message

	// req is the request the page answers; Next and Prev derive from it.
	req HistoryOptions
}

// Next returns the options that read the page after this one (newer
// messages), with the same limit, and false when the server retains no
// message after it.
func (p *HistoryPage) Next() (HistoryOptions, bool) {
	_, hi := p.span()
	if p.Oldest > p.Head || hi >= p.Head {
		return HistoryOptions{}, false
	}
	return HistoryOptions{After: hi, Forward: true, Limit: p.req.Limit}, true
}

// Prev returns the options that read the page before this one (older
// messages), with the same limit, and false when the server retains no
// message before it.
func (p *HistoryPage) Prev() (HistoryOptions, bool) {
	lo, _ := p.span()
	if p.Oldest > p.Head || p.Oldest >= lo {
		return HistoryOptions{}, false
	}
	return HistoryOptions{Before: lo, Limit: p.req.Limit}, true
}

// span returns the first and last seq the page covers: its messages', or,
// for an empty page, the range that was asked for. These are the cursors
// of the server API's history (api.HistoryResponse's Next and Prev).
func (p *HistoryPage) span() (lo, hi uint64) {
	if n := len(p.Messages); n > 0 {
		return p.Messages[0].Seq, p.Messages[n-1].Seq
	}
	switch {
	case p.req.Before > 0:
		return p.Oldest, p.req.Before - 1
	case p.req.After > 0 || p.req.Forward:
		return p.req.After + 1, p.Head
	default:
		return p.Oldest, p.Head
	}
}

// History reads a page of channel's history: the messages the server
// retains, in their stored order, without subscribing. The server checks
// the same permission as for a subscribe.
//
// History is a request like Subscribe: while the client is disconnected it
// waits and is sent on connect, and a request in flight when the
// connection drops is sent again on the next connection (reading is
// idempotent), so a reconnect never fails it. ctx bounds the whole call.
// An error frame is returned as an *Error: forbidden, bad_request,
// too_large (Limit over the server's maximum), or internal and
// rate_limited, which the caller may retry after a pause.
func (c *Client) History(ctx context.Context, channel string, opts HistoryOptions) (*HistoryPage, error) {
	if err := validateHistory(channel, opts); err != nil {
		return nil, err
	}
	f := protocol.Frame{Type: protocol.TypeHistory, Channel: channel}
	switch {
	case opts.Before > 0:
		f.Before = &opts.Before
	case opts.After > 0 || opts.Forward:
		f.After = &opts.After
	}
	if opts.Limit > 0 {
		f.Limit = &opts.Limit
	}
	r, err := c.request(ctx, &f)
	if err != nil {
		return nil, err
	}
	page := &HistoryPage{Channel: r.Channel, Head: r.Seq, Oldest: r.OldestSeq, req: opts,
		Messages: make([]Message, len(r.Messages))}
	for i := range r.Messages {
		m := &r.Messages[i]
		m.Channel = r.Channel
		page.Messages[i] = messageFromFrame(m)
	}
	return page, nil
}

func validateHistory(channel string, opts HistoryOptions) error {
	if !protocol.ValidChannel(channel) {
		return &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("invalid channel name %q", channel)}
	}
	if opts.Before > 0 && (opts.After > 0 || opts.Forward) {
		return &Error{Code: protocol.CodeBadRequest, Message: "give After (or Forward) or Before, not both"}
	}
	if opts.Limit < 0 {
		return &Error{Code: protocol.CodeBadRequest, Message: "limit must not be negative"}
	}
	return nil
}
