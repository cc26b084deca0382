package hub

import (
	"context"
	"slices"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Op entries (edits, deletes, reactions) are publications that change an
// earlier message. Live, they are delivered as they are, and clients
// apply them. A range of the log read later (a replay, a history page)
// returns each message as it stands now instead, so that a client that
// was away sees the present, while the op entries stay in the log at
// their own seqs. This file is where op entries are applied: the fold.
//
// Cost: a range [lo, hi] is folded with the op entries after it, up to
// the head, so a range d messages behind the head reads those d
// publications too, in broker reads of ReplayPage. A replay keeps one
// folder across its pages and reads the rest of the log once, not once
// per page. Nothing is read for ranges that end at the head, which is
// where live subscribes and a chat's first page are.

// Page is a range of a channel's log, with each message as it stands
// now, and the channel's stream position.
type Page struct {
	// Messages are in seq order, gapless, as herald.History's
	// Publications.
	Messages []Message
	// Head and Oldest are as in herald.History.
	Head, Oldest uint64
}

// Message is one entry of a channel's log as it stands now.
type Message struct {
	// Publication is the entry as stored: shared and read-only.
	*herald.Publication
	// Change is what later op entries did to the message; nil when none
	// changed it, and always for op entries themselves.
	Change *Change
}

// Change is the state op entries left a message in.
type Change struct {
	// Payload is the latest edit's payload; nil when there was none.
	Payload []byte
	// EditedAt is the time of the latest edit; 0 when there was none.
	EditedAt int64
	// Deleted makes the message a tombstone: no payload, no edit time,
	// no reactions. Ops after a delete change nothing.
	Deleted bool
	// reactions are each key's reactors, by user, with the seq of the
	// reaction that counts (the first of the user's, while it stands).
	reactions map[string]map[string]uint64
}

// Reactions returns the message's reactions, each with its exact count
// and its first protocol.ReactionUsers users in the order they reacted;
// the keys in the order of their oldest standing reaction.
func (c *Change) Reactions() []protocol.Reaction {
	if c == nil || len(c.reactions) == 0 {
		return nil
	}
	type reactor struct {
		user string
		seq  uint64
	}
	out := make([]protocol.Reaction, 0, len(c.reactions))
	first := make(map[string]uint64, len(c.reactions))
	for key, users := range c.reactions {
		rs := make([]reactor, 0, len(users))
		for u, seq := range users {
			rs = append(rs, reactor{u, seq})
		}
		slices.SortFunc(rs, func(a, b reactor) int { return cmpSeq(a.seq, b.seq) })
		r := protocol.Reaction{Key: key, Count: len(rs), Users: make([]string, 0, min(len(rs), protocol.ReactionUsers))}
		for _, x := range rs[:min(len(rs), protocol.ReactionUsers)] {
			r.Users = append(r.Users, x.user)
		}
		first[key] = rs[0].seq
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b protocol.Reaction) int { return cmpSeq(first[a.Key], first[b.Key]) })
	return out
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// apply applies op entry o to the message it changes.
func (c *Change) apply(o *herald.Publication) {
	if c.Deleted {
		return
	}
	switch o.Op {
	case protocol.OpEdit:
		c.Payload, c.EditedAt = o.Payload, o.Time
	case protocol.OpDelete:
		*c = Change{Deleted: true}
	case protocol.OpReact, protocol.OpUnreact:
		key, perr := protocol.ReactionKey(o.Payload)
		if perr != nil {
			return // checked at publish; nothing to apply
		}
		users := c.reactions[key]
		if o.Op == protocol.OpUnreact {
			delete(users, o.From)
			if len(users) == 0 {
				delete(c.reactions, key)
			}
			return
		}
		if users == nil {
			if c.reactions == nil {
				c.reactions = make(map[string]map[string]uint64)
			}
			users = make(map[string]uint64)
			c.reactions[key] = users
		}
		if _, ok := users[o.From]; !ok {
			users[o.From] = o.Seq
		}
	}
}

// folder folds consecutive ranges of one channel's log, in seq order, as
// a replay reads them: it reads the log after the first range once and
// keeps the op entries it found for the ranges that follow. A folder is
// used by one goroutine.
type folder struct {
	h       *Hub
	channel string
	// scanned is the seq up to which the log after the last range has
	// been read.
	scanned uint64
	// ops are the op entries read after the last range, in seq order,
	// that may still change a message of a later range.
	ops []*herald.Publication
}

func (h *Hub) newFolder(channel string) *folder { return &folder{h: h, channel: channel} }

// fold returns pubs, a gapless range of the log in seq order, with each
// message as the op entries up to head left it: those inside the range
// and those after it, which it reads, each read bounded by historyTimeout
// and all of them by ctx.
func (f *folder) fold(ctx context.Context, pubs []*herald.Publication, head uint64) ([]Message, error) {
	out := make([]Message, len(pubs))
	for i, p := range pubs {
		out[i].Publication = p
	}
	if len(pubs) == 0 {
		return out, nil
	}
	lo, hi := pubs[0].Seq, pubs[len(pubs)-1].Seq
	// Op entries up to hi are in this range, or before it and done with.
	f.ops = slices.DeleteFunc(f.ops, func(o *herald.Publication) bool { return o.Seq <= hi })
	f.scanned = max(f.scanned, hi)
	for f.scanned < head {
		// Each read has its own deadline: a range far behind the head
		// takes many.
		rctx, cancel := context.WithTimeout(ctx, historyTimeout)
		hist, err := f.h.broker.History(rctx, f.channel, herald.HistoryRequest{After: f.scanned, Limit: f.h.cfg.ReplayPage})
		cancel()
		if err != nil {
			return nil, err
		}
		if len(hist.Publications) == 0 {
			break
		}
		for _, p := range hist.Publications {
			if p.Op != "" && p.Ref >= lo {
				f.ops = append(f.ops, p)
			}
		}
		f.scanned = hist.Publications[len(hist.Publications)-1].Seq
	}
	applyOps := func(ops []*herald.Publication) {
		for _, o := range ops {
			if o.Op == "" || o.Ref < lo || o.Ref > hi {
				continue
			}
			m := &out[o.Ref-lo]
			if m.Seq != o.Ref || m.Op != "" {
				continue // not gapless as promised, or an op entry: nothing to change
			}
			if m.Change == nil {
				m.Change = &Change{}
			}
			m.Change.apply(o)
		}
	}
	applyOps(pubs)
	applyOps(f.ops)
	// Later ranges start after hi: op entries of messages up to it are
	// of no more use.
	f.ops = slices.DeleteFunc(f.ops, func(o *herald.Publication) bool { return o.Ref <= hi })
	return out, nil
}

// Protocol returns the message as the protocol encodes it in channel:
// its current payload (null once deleted), and what op entries did to it
// (editedAt, deleted, reactions with at most protocol.ReactionUsers
// users).
func (m Message) Protocol(channel string) protocol.Message {
	p := m.Publication
	w := protocol.Message{
		Channel: channel, Seq: p.Seq, ID: p.ID, Event: p.Event,
		Payload: p.Payload, Timestamp: p.Time, From: p.From,
		Op: p.Op, Ref: p.Ref,
	}
	if c := m.Change; c != nil {
		switch {
		case c.Deleted:
			w.Payload, w.Deleted = nil, true
		default:
			if c.Payload != nil || c.EditedAt != 0 {
				w.Payload, w.EditedAt = c.Payload, c.EditedAt
			}
			w.Reactions = c.Reactions()
		}
	}
	return w
}

// messageSize estimates a message's encoded size in a frame: its strings
// and payload as they are (ids and events need no escaping), the field
// names and numbers around them, and its reactions.
func messageSize(m Message) int {
	p := m.Publication
	n := 96 + len(p.ID) + len(p.Event) + len(p.From) + len(p.Op) + len(p.Payload)
	if c := m.Change; c != nil {
		n += len(c.Payload) + 32
		for key, users := range c.reactions {
			n += 32 + len(key) + 24*min(len(users), protocol.ReactionUsers)
		}
	}
	return n
}
