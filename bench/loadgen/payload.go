package loadgen

import (
	"bytes"
	"strconv"
)

// The stamp payload carries the publisher's clock so that a receiver can
// measure publish→deliver latency: {"t":<unix ns>,"s":<step>,"p":"xxx…"},
// padded to a chosen size.
const (
	stampT = `{"t":`
	stampS = `,"s":`
	stampP = `,"p":"`
)

// AppendStamp appends a stamp payload of about size bytes (never less than
// needed for the two numbers) to dst.
func AppendStamp(dst []byte, unixNano int64, step int, size int) []byte {
	start := len(dst)
	dst = append(dst, stampT...)
	dst = strconv.AppendInt(dst, unixNano, 10)
	dst = append(dst, stampS...)
	dst = strconv.AppendInt(dst, int64(step), 10)
	dst = append(dst, stampP...)
	for len(dst)-start < size-2 {
		dst = append(dst, 'x')
	}
	return append(dst, '"', '}')
}

// ParseStamp reads a stamp payload. ok is false if p is not one.
func ParseStamp(p []byte) (unixNano int64, step int, ok bool) {
	if !bytes.HasPrefix(p, []byte(stampT)) {
		return 0, 0, false
	}
	p = p[len(stampT):]
	t, n := parseUint(p)
	if n == 0 || !bytes.HasPrefix(p[n:], []byte(stampS)) {
		return 0, 0, false
	}
	p = p[n+len(stampS):]
	s, n := parseUint(p)
	if n == 0 {
		return 0, 0, false
	}
	return int64(t), int(s), true
}

// parseUint parses the decimal digits at the start of b and returns the
// value and how many bytes it used (0 if none).
func parseUint(b []byte) (uint64, int) {
	var v uint64
	i := 0
	for ; i < len(b) && i < 20; i++ {
		c := b[i]
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + uint64(c-'0')
	}
	return v, i
}
