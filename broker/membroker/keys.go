package membroker

import (
	"encoding/binary"
	"errors"

	"github.com/heraldrt/herald"
)

const (
	prefixMessage = 'm'
	prefixMeta    = 'c'
	prefixDedupe  = 'd'
	prefixMap     = 'k'
)

func messageKey(dst []byte, channel string, seq uint64) []byte {
	dst = append(dst, prefixMessage)
	dst = append(dst, channel...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func metaKey(channel string) []byte {
	return append([]byte{prefixMeta}, channel...)
}

func dedupeKey(bucket uint64, channel, id string) []byte {
	k := make([]byte, 0, 1+8+len(channel)+1+len(id))
	k = append(k, prefixDedupe)
	k = binary.BigEndian.AppendUint64(k, bucket)
	k = append(k, channel...)
	k = append(k, 0)
	return append(k, id...)
}

func dedupeBucketKey(bucket uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixDedupe}, bucket)
}

// mapKey is the key of one key of a channel map: 'k' channel 0x00 name
// 0x00 key. Channels and map names hold no zero byte, so the keys of one
// map are exactly those that start with mapPrefix(channel, name).
func mapKey(channel, name, key string) []byte {
	k := appendMapPrefix(make([]byte, 0, 3+len(channel)+len(name)+len(key)), channel, name)
	return append(k, key...)
}

// mapPrefix starts the keys of a channel map.
func mapPrefix(channel, name string) []byte {
	return appendMapPrefix(make([]byte, 0, 3+len(channel)+len(name)), channel, name)
}

// mapPrefixEnd is the first key after those of a channel map: its prefix
// with the final 0x00 raised to 0x01.
func mapPrefixEnd(channel, name string) []byte {
	k := mapPrefix(channel, name)
	k[len(k)-1] = 1
	return k
}

func appendMapPrefix(dst []byte, channel, name string) []byte {
	dst = append(dst, prefixMap)
	dst = append(dst, channel...)
	dst = append(dst, 0)
	dst = append(dst, name...)
	return append(dst, 0)
}

func encodeMeta(head, oldest uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, head)
	binary.BigEndian.PutUint64(b[8:], oldest)
	return b
}

func decodeMeta(b []byte) (head, oldest uint64, err error) {
	if len(b) != 16 {
		return 0, 0, errCorrupt
	}
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), nil
}

var errCorrupt = errors.New("membroker: corrupt record")

// Versions of the encoded publication, its first byte. A publication
// without an op is written as version 1, as before op entries existed, so
// that an older binary still reads the log it finds; only op entries take
// version 2.
const (
	codecVersion1 = 1
	codecVersion2 = 2
)

// encodePublication writes p (without its seq, which is in the key):
// version, time, then id, event and from each length-prefixed, then, in
// version 2, the op length-prefixed and the ref, then the payload to the
// end.
func encodePublication(p *herald.Publication) []byte {
	op := p.Op != "" || p.Ref != 0
	n := 1 + binary.MaxVarintLen64 + 3*binary.MaxVarintLen16 + len(p.ID) + len(p.Event) + len(p.From) + len(p.Payload)
	if op {
		n += binary.MaxVarintLen16 + len(p.Op) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	if op {
		b = append(b, codecVersion2)
	} else {
		b = append(b, codecVersion1)
	}
	b = binary.AppendVarint(b, p.Time)
	for _, s := range [...]string{p.ID, p.Event, p.From} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if op {
		b = binary.AppendUvarint(b, uint64(len(p.Op)))
		b = append(b, p.Op...)
		b = binary.AppendUvarint(b, p.Ref)
	}
	return append(b, p.Payload...)
}

// decodePublication is the inverse of encodePublication. It copies what it
// keeps, so b may be reused afterwards.
func decodePublication(b []byte, seq uint64) (*herald.Publication, error) {
	if len(b) < 1 || (b[0] != codecVersion1 && b[0] != codecVersion2) {
		return nil, errCorrupt
	}
	version := b[0]
	b = b[1:]
	t, n := binary.Varint(b)
	if n <= 0 {
		return nil, errCorrupt
	}
	b = b[n:]
	nfields := 3
	if version == codecVersion2 {
		nfields = 4
	}
	var fields [4]string
	for i := range nfields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, errCorrupt
		}
		fields[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	var ref uint64
	if version == codecVersion2 {
		if ref, n = binary.Uvarint(b); n <= 0 {
			return nil, errCorrupt
		}
		b = b[n:]
	}
	return &herald.Publication{
		Seq: seq, Time: t, ID: fields[0], Event: fields[1], From: fields[2],
		Op: fields[3], Ref: ref, Payload: append([]byte(nil), b...),
	}, nil
}

// decodeTime reads only the time of an encoded publication.
func decodeTime(b []byte) (int64, error) {
	if len(b) < 1 || (b[0] != codecVersion1 && b[0] != codecVersion2) {
		return 0, errCorrupt
	}
	t, n := binary.Varint(b[1:])
	if n <= 0 {
		return 0, errCorrupt
	}
	return t, nil
}
