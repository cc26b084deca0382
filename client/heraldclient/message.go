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

	// SnapshotRequired is set when the server could not replay what this
	// subscription missed (it came back after the retention window, or its
	// LastSeq was ahead of the server's log). The other fields but Channel
	// and Seq are empty. The app reloads the channel's state from its
	// backend; the messages that follow come after Seq. It arrives in the
	// stream, in order, so that messages from before the gap and after it
	// are never mixed up.
	SnapshotRequired *SnapshotRequired
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
	return Message{
		Channel:   f.Channel,
		Seq:       f.Seq,
		ID:        f.ID,
		Event:     f.Event,
		Payload:   f.Payload,
		Timestamp: time.UnixMilli(f.Timestamp),
		From:      f.From,
	}
}
