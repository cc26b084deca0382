package natsbroker

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/internal/pubbody"
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

func encodeBody(p *herald.Publication) []byte { return pubbody.Encode(p) }

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
	p, err := pubbody.Decode(data, seq, t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return p, nil
}
