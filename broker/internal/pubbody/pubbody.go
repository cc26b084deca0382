// Package pubbody is the binary body in which the Redis and NATS brokers
// store the parts of a publication that its publisher chose: a version
// byte, then id, event and from, each prefixed with its length as a
// uvarint, then (version 2 only) the op, length-prefixed, and the ref as
// a uvarint, then the payload to the end. Seq and time are not in it: the
// brokers keep them where their servers can read them (a stream entry's
// id, message headers).
//
// A publication without an op is written as version 1, the format that
// came first, so that a node of an older version reads it during a
// rolling upgrade; only op entries need version 2. Both versions decode.
//
// # Concurrency properties
//
// The functions keep no state and may be called concurrently.
package pubbody

import (
	"encoding/binary"
	"errors"

	"github.com/heraldrt/herald"
)

// Versions of the body format, its first byte.
const (
	// Version1 holds id, event, from and payload.
	Version1 = 1
	// Version2 adds op and ref, for op entries.
	Version2 = 2
)

// ErrCorrupt is returned for a body this package did not write, or that
// a newer version wrote in a format it cannot read.
var ErrCorrupt = errors.New("corrupt publication body")

// Encode writes p's id, event, from, op, ref and payload.
func Encode(p *herald.Publication) []byte {
	op := p.Op != "" || p.Ref != 0
	n := 1 + 3*binary.MaxVarintLen16 + len(p.ID) + len(p.Event) + len(p.From) + len(p.Payload)
	if op {
		n += binary.MaxVarintLen16 + len(p.Op) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	if op {
		b = append(b, Version2)
	} else {
		b = append(b, Version1)
	}
	for _, s := range [...]string{p.ID, p.Event, p.From} {
		b = appendString(b, s)
	}
	if op {
		b = appendString(b, p.Op)
		b = binary.AppendUvarint(b, p.Ref)
	}
	return append(b, p.Payload...)
}

// Decode is the inverse of Encode, over a string (as Redis clients hand
// values over) or bytes. The publication it returns copies what it keeps
// and has Seq and Time set as given.
func Decode[T ~string | ~[]byte](b T, seq uint64, time int64) (*herald.Publication, error) {
	if len(b) < 1 || (b[0] != Version1 && b[0] != Version2) {
		return nil, ErrCorrupt
	}
	version := b[0]
	b = b[1:]
	nfields := 3
	if version == Version2 {
		nfields = 4
	}
	var fields [4]string
	for i := range nfields {
		l, n := uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, ErrCorrupt
		}
		fields[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	var ref uint64
	if version == Version2 {
		var n int
		if ref, n = uvarint(b); n <= 0 {
			return nil, ErrCorrupt
		}
		b = b[n:]
	}
	return &herald.Publication{
		Seq: seq, Time: time, ID: fields[0], Event: fields[1], From: fields[2],
		// append, not a conversion: converting bytes to bytes would not copy.
		Op: fields[3], Ref: ref, Payload: append([]byte(nil), b...),
	}, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// uvarint is binary.Uvarint over a string or bytes, without copying.
func uvarint[T ~string | ~[]byte](s T) (uint64, int) {
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
