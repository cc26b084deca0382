package api

import (
	"encoding/json"
	"net/http"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// HistoryResponse is a page of a channel's log with its stream position.
type HistoryResponse struct {
	Channel string `json:"channel"`
	// Head is the seq of the newest message ever published to the
	// channel, 0 if none.
	Head uint64 `json:"head"`
	// Oldest is the seq of the oldest message retained, Head+1 if none.
	Oldest uint64 `json:"oldest"`
	// Publications are in seq order, oldest first, in both directions.
	Publications []HistoryPublication `json:"publications"`
	// Next is the query for the page after this one (newer messages);
	// nil when no retained message follows.
	Next *SeqAfter `json:"next,omitempty"`
	// Prev is the query for the page before this one (older messages);
	// nil when no retained message precedes.
	Prev *SeqBefore `json:"prev,omitempty"`
}

// HistoryPublication is one message, with the fields of the WebSocket
// message frame (the empty ones left out, as there).
type HistoryPublication struct {
	Seq       uint64          `json:"seq"`
	ID        string          `json:"id,omitempty"`
	Event     string          `json:"event,omitempty"`
	Payload   json.RawMessage `json:"payload"`
	Timestamp int64           `json:"timestamp"`
	// From is the publisher's user id, empty for the server API.
	From string `json:"from,omitempty"`
	// Op and Ref make the publication an op entry: an edit, delete,
	// react or unreact of the message at seq Ref.
	Op  string `json:"op,omitempty"`
	Ref uint64 `json:"target,omitempty"`
	// EditedAt, Deleted and Reactions say what op entries did to the
	// message: Payload is then its latest edit's (null once deleted).
	EditedAt  int64               `json:"editedAt,omitempty"`
	Deleted   bool                `json:"deleted,omitempty"`
	Reactions map[string]Reaction `json:"reactions,omitempty"`
}

// Reaction summarizes one reaction key of a message: how many users
// reacted with it, and the first 20 of them in the order they reacted.
type Reaction struct {
	Count int      `json:"count"`
	Users []string `json:"users"`
}

// SeqAfter is a history cursor going forward: ?after=After.
type SeqAfter struct {
	After uint64 `json:"after"`
}

// SeqBefore is a history cursor going backward: ?before=Before.
type SeqBefore struct {
	Before uint64 `json:"before"`
}

// history serves GET /api/history. With after (or neither) it reads
// forward from there; with before it reads the newest messages below it,
// for paging back from the present. Both bounds are exclusive, so a page's
// next or prev cursor starts the adjacent page exactly.
func (a *handler) history(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.RawQuery, "channel", "limit", "after", "before")
	if err != nil {
		return err
	}
	channel, err := q.channel()
	if err != nil {
		return err
	}
	limit, err := q.limit()
	if err != nil {
		return err
	}
	if q.has("after") && q.has("before") {
		return errorf(protocol.CodeBadRequest, "give after or before, not both")
	}
	after, err := q.uint("after", 0, 0)
	if err != nil {
		return err
	}
	before, err := q.uint("before", 1, 0)
	if err != nil {
		return err
	}
	hist, err := a.hub.History(r.Context(), channel, herald.HistoryRequest{After: after, Before: before, Limit: limit})
	if err != nil {
		return err
	}
	out := HistoryResponse{
		Channel: channel, Head: hist.Head, Oldest: hist.Oldest,
		Publications: make([]HistoryPublication, len(hist.Messages)),
	}
	for i, m := range hist.Messages {
		p := m.Protocol(channel)
		payload := json.RawMessage(p.Payload)
		if len(payload) == 0 || p.Deleted {
			payload = json.RawMessage("null")
		}
		out.Publications[i] = HistoryPublication{
			Seq: p.Seq, ID: p.ID, Event: p.Event, Payload: payload, Timestamp: p.Timestamp, From: p.From,
			Op: p.Op, Ref: p.Ref, EditedAt: p.EditedAt, Deleted: p.Deleted,
		}
		if len(p.Reactions) > 0 {
			rs := make(map[string]Reaction, len(p.Reactions))
			for _, r := range p.Reactions {
				rs[r.Key] = Reaction{Count: r.Count, Users: r.Users}
			}
			out.Publications[i].Reactions = rs
		}
	}
	// lo and hi are the first and last seq this page covers: those of its
	// publications, or, for an empty page, the range that was asked for.
	lo, hi := after+1, hist.Head
	if before > 0 {
		lo, hi = hist.Oldest, before-1
	}
	if n := len(hist.Messages); n > 0 {
		lo, hi = hist.Messages[0].Seq, hist.Messages[n-1].Seq
	}
	retained := hist.Oldest <= hist.Head
	if retained && hi < hist.Head {
		out.Next = &SeqAfter{After: hi}
	}
	if retained && hist.Oldest < lo {
		out.Prev = &SeqBefore{Before: lo}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
