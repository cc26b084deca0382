package ws

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCloseFrameReasonStaysUTF8(t *testing.T) {
	reason := strings.Repeat("é", 100) // 200 bytes
	f := closeFrame(4003, reason)
	payload := f[2:]
	if len(payload) > 125 {
		t.Fatalf("control frame payload of %d bytes", len(payload))
	}
	if !utf8.Valid(payload[2:]) {
		t.Fatalf("reason cut inside a character: %q", payload[2:])
	}
}
