package natsbroker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/heraldrt/herald"
)

// A publication is one JetStream message on its channel's subject:
//
//	header Herald-Seq    the channel's seq, decimal
//	header Herald-Time   server time in ms since the epoch, decimal
//	header Nats-Msg-Id   msgID(channel, id), for JetStream's dedupe
//	data                 version(1) uvarint-length-prefixed id, event and
//	                     from, then the payload to the end
//
// Seq and time are headers so that tools (nats stream view) and the
// publish path read them without decoding the body; the strings the
// client chose are in the body, where no byte of them can break a header.
const (
	hdrSeq  = "Herald-Seq"
	hdrTime = "Herald-Time"
)

const codecVersion = 1

var errCorrupt = errors.New("natsbroker: corrupt publication")

// encodeMessage builds the message that stores p, with seq and time, on
// subject.
func encodeMessage(subject string, p *herald.Publication, seq uint64, time int64) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(hdrSeq, strconv.FormatUint(seq, 10))
	m.Header.Set(hdrTime, strconv.FormatInt(time, 10))
	m.Data = encodeBody(p)
	return m
}

func encodeBody(p *herald.Publication) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen16+len(p.ID)+len(p.Event)+len(p.From)+len(p.Payload))
	b = append(b, codecVersion)
	for _, s := range [...]string{p.ID, p.Event, p.From} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, p.Payload...)
}

// decodeHeader reads the seq and time of a stored publication.
func decodeHeader(h nats.Header) (seq uint64, time int64, err error) {
	seq, err = strconv.ParseUint(h.Get(hdrSeq), 10, 64)
	if err != nil || seq == 0 {
		return 0, 0, fmt.Errorf("%w: %s %q", errCorrupt, hdrSeq, h.Get(hdrSeq))
	}
	time, err = strconv.ParseInt(h.Get(hdrTime), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %s %q", errCorrupt, hdrTime, h.Get(hdrTime))
	}
	return seq, time, nil
}

// decodePublication is the inverse of encodeMessage. It copies what it
// keeps, so data may be reused afterwards.
func decodePublication(h nats.Header, data []byte) (*herald.Publication, error) {
	seq, t, err := decodeHeader(h)
	if err != nil {
		return nil, err
	}
	if len(data) < 1 || data[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown body version", errCorrupt)
	}
	b := data[1:]
	var fields [3]string
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: truncated body", errCorrupt)
		}
		fields[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	return &herald.Publication{
		Seq: seq, Time: t, ID: fields[0], Event: fields[1], From: fields[2],
		Payload: append([]byte(nil), b...),
	}, nil
}
