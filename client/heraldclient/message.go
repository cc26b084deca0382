package heraldclient

import (
	"encoding/json"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// Message is one element of a Subscription's stream: normally a message
// published to the channel; when SnapshotRequired is set, the notice that
// the messages before it could not be replayed.
type Message struct {
	// Channel is the channel the message was published to.
	Channel string
	// Seq is the message's position in the channel: 1, 2, 3, … without gaps.
	// A subscription delivers each seq once, in order. For a
	// SnapshotRequired notice it is the channel's head, the position the
	// stream continues from.
	Seq uint64
	// ID is the publisher's id for the message (its idempotency key).
	ID string
	// Event is the publisher's event name, for example "message.new".
	Event string
	// Payload is the published JSON value, exactly as sent. The
	// Subscription does not reuse it; the receiver owns it.
	Payload json.RawMessage
	// Timestamp is when the server stored the message.
	Timestamp time.Time
	// From is the publisher's user id.
	From string

	// Op, when set, makes the message an op entry: a change to the
	// earlier message at seq Ref (OpEdit, OpDelete, OpReact, OpUnreact).
	// An op entry arrives at its own seq like any message; the app
	// applies it to the message it changes (see "Edits, deletes and
	// reactions" in the package documentation).
	Op  string
	Ref uint64
	// EditedAt, Deleted and Reactions say what op entries did to the
	// message, in replays and history pages, which send each message as
	// it stands: Payload is then its latest edit's. EditedAt is the time
	// of that edit (zero if none); a deleted message has a nil Payload;
	// Reactions are by key. Live messages come as they were published.
	EditedAt  time.Time
	Deleted   bool
	Reactions map[string]Reaction

	// SnapshotRequired is set when the server could not replay what this
	// subscription missed (it came back after the retention window, or its
	// LastSeq was ahead of the server's log). The other fields but Channel
	// and Seq are empty. The app reloads the channel's state from its
	// backend; the messages that follow come after Seq. It arrives in the
	// stream, in order, so that messages from before the gap and after it
	// are never mixed up.
	SnapshotRequired *SnapshotRequired
}

// The ops of an op entry (Message.Op).
const (
	OpEdit    = protocol.OpEdit
	OpDelete  = protocol.OpDelete
	OpReact   = protocol.OpReact
	OpUnreact = protocol.OpUnreact
)

// Reaction summarizes one reaction key of a message.
type Reaction struct {
	// Count is how many users reacted with the key.
	Count int
	// Users are the first 20 of them (protocol.ReactionUsers), in the
	// order they reacted.
	Users []string
}

// SnapshotRequired describes a gap the server cannot replay (the
// snapshot_required frame).
type SnapshotRequired struct {
	Channel string
	// Seq is the channel's head: the stream continues after it.
	Seq uint64
	// OldestSeq is the oldest seq the server still holds.
	OldestSeq uint64
}

// Ack confirms that the server stored a publish durably.
type Ack struct {
	// ID is the publish's id. A retried publish gets the ack of its first
	// attempt, with the same Seq and Timestamp.
	ID      string
	Channel string
	// Seq is the message's position in the channel.
	Seq uint64
	// Timestamp is when the server stored the message; it equals the
	// Timestamp of the Message subscribers receive.
	Timestamp time.Time
}

func messageFromFrame(f *protocol.Frame) Message {
	m := Message{
		Channel:   f.Channel,
		Seq:       f.Seq,
		ID:        f.ID,
		Event:     f.Event,
		Payload:   f.Payload,
		Timestamp: time.UnixMilli(f.Timestamp),
		From:      f.From,
		Op:        f.Op,
		Ref:       f.Target,
		Deleted:   f.Deleted,
	}
	if f.EditedAt != 0 {
		m.EditedAt = time.UnixMilli(f.EditedAt)
	}
	if f.Deleted {
		m.Payload = nil
	}
	if len(f.Reactions) > 0 {
		m.Reactions = make(map[string]Reaction, len(f.Reactions))
		for key, r := range f.Reactions {
			m.Reactions[key] = Reaction{Count: r.Count, Users: r.Users}
		}
	}
	return m
}
