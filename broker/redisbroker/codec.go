package redisbroker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/internal/pubbody"
)

// errCorrupt is returned for data read from Redis that this package did
// not write (or that a newer version wrote in a format it cannot read).
var errCorrupt = errors.New("redisbroker: corrupt record")

// encodeBody writes the parts of p that the publisher gives (see
// pubbody). Seq and Time are assigned by the publish script, which stores
// them next to the body (the stream entry's id and its "t" field) and
// puts them in front of it in the pub/sub message.
func encodeBody(p *herald.Publication) []byte { return pubbody.Encode(p) }

// decodeBody is the inverse of encodeBody. It copies what it keeps.
func decodeBody(b string, seq uint64, t int64) (*herald.Publication, error) {
	p, err := pubbody.Decode(b, seq, t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return p, nil
}

// decodeMessage decodes a pub/sub message as the publish script builds
// it: "<seq>:<time>:" followed by the body.
func decodeMessage(m string) (*herald.Publication, error) {
	seqStr, rest, ok := strings.Cut(m, ":")
	if !ok {
		return nil, fmt.Errorf("%w: message without seq", errCorrupt)
	}
	timeStr, body, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, fmt.Errorf("%w: message without time", errCorrupt)
	}
	seq, err := parseSeq(seqStr)
	if err != nil {
		return nil, err
	}
	t, err := parseTime(timeStr)
	if err != nil {
		return nil, err
	}
	return decodeBody(body, seq, t)
}

// ephemeralMark starts a pub/sub message that carries an ephemeral
// message (Broadcast) instead of a publication notice. A notice starts
// with its seq in decimal, so with a digit, never with this byte.
const ephemeralMark = '!'

// encodeEphemeral builds the pub/sub message of an ephemeral message:
// the mark, then data as it is.
func encodeEphemeral(data []byte) string {
	var b strings.Builder
	b.Grow(1 + len(data))
	b.WriteByte(ephemeralMark)
	b.Write(data)
	return b.String()
}

// decodePubSub decodes a message of a channel's pub/sub channel: either a
// publication notice (p) or an ephemeral message (data, a copy, never
// nil).
func decodePubSub(m string) (p *herald.Publication, data []byte, err error) {
	if rest, ok := strings.CutPrefix(m, string(ephemeralMark)); ok {
		return nil, append(make([]byte, 0, len(rest)), rest...), nil
	}
	p, err = decodeMessage(m)
	return p, nil, err
}

// encodeMessage is what the publish script does, for tests.
func encodeMessage(p *herald.Publication) string {
	return strconv.FormatUint(p.Seq, 10) + ":" + strconv.FormatInt(p.Time, 10) + ":" + string(encodeBody(p))
}

// decodeEntry decodes a stream entry: its id is "<seq>-0", its fields
// "t" (the time) and "b" (the body).
func decodeEntry(id string, fields map[string]string) (*herald.Publication, error) {
	seq, err := entrySeq(id)
	if err != nil {
		return nil, err
	}
	ts, ok := fields["t"]
	if !ok {
		return nil, fmt.Errorf("%w: entry %s without time", errCorrupt, id)
	}
	t, err := parseTime(ts)
	if err != nil {
		return nil, err
	}
	body, ok := fields["b"]
	if !ok {
		return nil, fmt.Errorf("%w: entry %s without body", errCorrupt, id)
	}
	return decodeBody(body, seq, t)
}

// entrySeq returns the seq of a stream entry id "<seq>-0".
func entrySeq(id string) (uint64, error) {
	s, tail, ok := strings.Cut(id, "-")
	if !ok || tail != "0" {
		return 0, fmt.Errorf("%w: stream id %q", errCorrupt, id)
	}
	return parseSeq(s)
}

func parseSeq(s string) (uint64, error) {
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 || seq > maxSeq {
		return 0, fmt.Errorf("%w: seq %q", errCorrupt, s)
	}
	return seq, nil
}

func parseTime(s string) (int64, error) {
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil || t < 0 {
		return 0, fmt.Errorf("%w: time %q", errCorrupt, s)
	}
	return t, nil
}

// maxSeq is the largest seq the scripts handle exactly: Lua numbers are
// doubles. At a million publications a second a channel reaches it in
// 285 years.
const maxSeq = 1<<53 - 1
