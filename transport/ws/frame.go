package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// WebSocket opcodes and header bits (RFC 6455 §5.2).
const (
	finBit      = 0x80
	opText      = 0x1
	opClose     = 0x8
	opPing      = 0x9
	maxHeadSize = 10
)

// appendFrame appends an unmasked server frame with the given opcode and
// payload.
func appendFrame(dst []byte, opcode byte, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, finBit|opcode, byte(n))
	case n <= 0xffff:
		dst = append(dst, finBit|opcode, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, finBit|opcode, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// textFrame frames JSON as a text frame; it is the hub.Frame builder.
func textFrame(json []byte) []byte {
	return appendFrame(make([]byte, 0, len(json)+maxHeadSize), opText, json)
}

// closeFrame builds a close frame with a code and a reason, cut to fit
// the 125-byte control frame limit.
func closeFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		// Cut on a character boundary: the reason must stay UTF-8.
		n := 123
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	p = append(p, reason...)
	return appendFrame(make([]byte, 0, len(p)+2), opClose, p)
}

var pingFrame = []byte{finBit | opPing, 0}
