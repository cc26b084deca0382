package loadgen

import (
	"bytes"
	"encoding/json"

	"github.com/heraldrt/herald/protocol"
)

// Message is a message frame as a Handler sees it. Its slices point into
// the frame being handled and are valid only during the call.
type Message struct {
	Channel   []byte
	Seq       uint64
	Payload   []byte
	Timestamp int64
	// Size is the frame's length in bytes.
	Size int
}

// Presence is a presence_state or presence_diff frame as a
// PresenceHandler sees it. Channel points into the frame being handled
// and is valid only during the call.
type Presence struct {
	Channel []byte
	// State tells a presence_state (the full picture: after a subscribe,
	// or when a channel becomes small enough to list again) from a
	// presence_diff.
	State bool
	// Count is how many users are present.
	Count int
	// Size is the frame's length in bytes.
	Size int
}

var (
	statePrefix = []byte(`{"type":"presence_state"`)
	diffPrefix  = []byte(`{"type":"presence_diff"`)
	countKey    = []byte(`,"count":`)
	msgPrefix   = []byte(`{"type":"message","channel":"`)
	ackPrefix   = []byte(`{"type":"ack","id":"`)
	seqKey      = []byte(`,"seq":`)
	payloadKey  = []byte(`,"payload":`)
	tsKey       = []byte(`,"timestamp":`)
	channelKey  = []byte(`,"channel":"`)
	closeQuote  = byte('"')
	arrayPrefix = byte('[')
)

// parseMessage reads a message frame laid out as protocol.AppendMessage
// writes it. It reports false for anything else, which the caller then
// decodes the slow way.
//
// Channel names, ids and events never contain a quote (the protocol
// forbids it), and an encoded "from" holds no unescaped quote, so the
// first `,"payload":` after seq starts the payload and the last
// `,"timestamp":` ends it.
func parseMessage(b []byte, m *Message) bool {
	if !bytes.HasPrefix(b, msgPrefix) {
		return false
	}
	m.Size = len(b)
	rest := b[len(msgPrefix):]
	q := bytes.IndexByte(rest, closeQuote)
	if q < 0 {
		return false
	}
	m.Channel = rest[:q]
	rest = rest[q+1:]
	if !bytes.HasPrefix(rest, seqKey) {
		return false
	}
	rest = rest[len(seqKey):]
	seq, n := parseUint(rest)
	if n == 0 {
		return false
	}
	m.Seq = seq
	rest = rest[n:]
	i := bytes.Index(rest, payloadKey)
	j := lastIndex(rest, tsKey)
	if i < 0 || j < i+len(payloadKey) {
		return false
	}
	m.Payload = rest[i+len(payloadKey) : j]
	ts, n := parseUint(rest[j+len(tsKey):])
	if n == 0 {
		return false
	}
	m.Timestamp = int64(ts)
	return true
}

// lastIndex is bytes.LastIndex for a key expected near the end of b,
// which bytes.LastIndex (Rabin-Karp over the whole slice) is slow at.
func lastIndex(b, key []byte) int {
	for i := len(b) - len(key); i >= 0; i-- {
		if b[i] == key[0] && bytes.Equal(b[i:i+len(key)], key) {
			return i
		}
	}
	return -1
}

// parseAck reads an ack frame laid out as protocol.AppendAck writes it.
func parseAck(b []byte) (id []byte, seq uint64, ok bool) {
	if !bytes.HasPrefix(b, ackPrefix) {
		return nil, 0, false
	}
	rest := b[len(ackPrefix):]
	q := bytes.IndexByte(rest, closeQuote)
	if q < 0 {
		return nil, 0, false
	}
	id = rest[:q]
	rest = rest[q+1:]
	if !bytes.HasPrefix(rest, channelKey) {
		return nil, 0, false
	}
	rest = rest[len(channelKey):]
	q = bytes.IndexByte(rest, closeQuote)
	if q < 0 || !bytes.HasPrefix(rest[q+1:], seqKey) {
		return nil, 0, false
	}
	seq, n := parseUint(rest[q+1+len(seqKey):])
	if n == 0 {
		return nil, 0, false
	}
	return id, seq, true
}

// parsePresence reads a presence_state or presence_diff frame laid out
// as protocol.AppendPresenceState and AppendPresenceDiff write it: the
// type, an optional id, the channel, then the count. Neither an id nor a
// channel holds a quote, so the first `,"channel":"` is the channel's.
func parsePresence(b []byte, p *Presence) bool {
	var rest []byte
	switch {
	case bytes.HasPrefix(b, statePrefix):
		p.State, rest = true, b[len(statePrefix):]
	case bytes.HasPrefix(b, diffPrefix):
		p.State, rest = false, b[len(diffPrefix):]
	default:
		return false
	}
	p.Size = len(b)
	i := bytes.Index(rest, channelKey)
	if i < 0 {
		return false
	}
	rest = rest[i+len(channelKey):]
	q := bytes.IndexByte(rest, closeQuote)
	if q < 0 {
		return false
	}
	p.Channel = rest[:q]
	rest = rest[q+1:]
	if !bytes.HasPrefix(rest, countKey) {
		return false
	}
	n, k := parseUint(rest[len(countKey):])
	if k == 0 {
		return false
	}
	p.Count = int(n)
	return true
}

// decodeFrames is the slow path: any server frame or batch, with
// encoding/json.
func decodeFrames(b []byte) ([]protocol.Frame, error) {
	if len(b) > 0 && b[0] == arrayPrefix {
		var fs []protocol.Frame
		err := json.Unmarshal(b, &fs)
		return fs, err
	}
	var f protocol.Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return []protocol.Frame{f}, nil
}
