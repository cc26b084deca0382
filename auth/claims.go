package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/heraldrt/herald/protocol"
)

// Private claims Herald reads.
const (
	// ChannelsClaim lists the channel patterns a token grants, as
	// protocol.MatchPattern reads them. Absent or null grants none.
	ChannelsClaim = "channels"
	// InfoClaim is any JSON object, at most MaxInfoSize bytes once
	// compacted, that presence shows to other clients.
	InfoClaim = "info"
)

// MaxInfoSize is the largest info claim accepted, in bytes of compact
// JSON. A larger one makes the token invalid.
const MaxInfoSize = 1024

// maxEchoedPattern caps how much of a bad pattern an error repeats.
const maxEchoedPattern = 64

var (
	errChannels     = invalid("channels claim must be a list of patterns")
	errInfoObject   = invalid("info claim must be a JSON object")
	errInfoTooLarge = invalid(fmt.Sprintf("info claim is larger than %d bytes", MaxInfoSize))
	errInfoEncoding = invalid("info claim is not valid UTF-8")
)

// privateClaims reads the channels and info claims from a verified JWT
// payload.
func privateClaims(payload []byte) (channels []string, info json.RawMessage, err error) {
	// A map, unlike a struct, matches claim names exactly.
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, nil, errMalformed
	}
	if channels, err = channelsClaim(claims[ChannelsClaim]); err != nil {
		return nil, nil, err
	}
	if info, err = infoClaim(claims[InfoClaim]); err != nil {
		return nil, nil, err
	}
	return channels, info, nil
}

// channelsClaim validates the channels claim: absent or null is no
// channels; otherwise a list of valid patterns.
func channelsClaim(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errChannels
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			return nil, errChannels
		}
		if !protocol.ValidPattern(s) {
			if len(s) > maxEchoedPattern {
				s = s[:maxEchoedPattern] + "…"
			}
			return nil, fmt.Errorf("%w: channels claim holds an invalid pattern %q", ErrInvalidToken, s)
		}
		out = append(out, s)
	}
	return out, nil
}

// infoClaim validates the info claim and returns it as compact JSON: nil
// when absent or null, otherwise an object of at most MaxInfoSize bytes.
func infoClaim(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, errInfoObject
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, errMalformed
	}
	if buf.Len() > MaxInfoSize {
		return nil, errInfoTooLarge
	}
	// It will be relayed in WebSocket text frames, which must be UTF-8.
	if !utf8.Valid(buf.Bytes()) {
		return nil, errInfoEncoding
	}
	return buf.Bytes(), nil
}

// isNull reports whether a claim is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
