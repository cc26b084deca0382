package redisbroker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/heraldrt/herald"
)

// errCorrupt is returned for data read from Redis that this package did
// not write (or that a newer version wrote in a format it cannot read).
var errCorrupt = errors.New("redisbroker: corrupt record")

const codecVersion = 1

// encodeBody writes the parts of p that the publisher gives: version, then
// id, event and from each length-prefixed, then the payload to the end.
// Seq and Time are assigned by the publish script, which stores them next
// to the body (the stream entry's id and its "t" field) and puts them in
// front of it in the pub/sub message.
func encodeBody(p *herald.Publication) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen16+len(p.ID)+len(p.Event)+len(p.From)+len(p.Payload))
	b = append(b, codecVersion)
	for _, s := range [...]string{p.ID, p.Event, p.From} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, p.Payload...)
}

// decodeBody is the inverse of encodeBody. It copies what it keeps.
func decodeBody(b string, seq uint64, t int64) (*herald.Publication, error) {
	if len(b) < 1 || b[0] != codecVersion {
		return nil, errCorrupt
	}
	b = b[1:]
	var fields [3]string
	for i := range fields {
		l, n := uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, errCorrupt
		}
		fields[i] = strings.Clone(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	return &herald.Publication{
		Seq: seq, Time: t, ID: fields[0], Event: fields[1], From: fields[2],
		Payload: []byte(b),
	}, nil
}

// uvarint is binary.Uvarint over a string, without copying it.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
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
