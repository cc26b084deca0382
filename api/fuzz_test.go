package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/heraldrt/herald/protocol"
)

// FuzzDecodeJSON: any body gets a request struct or a bad_request, never
// a panic, and what is accepted was a JSON object.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"channel":"chat.1","payload":{"text":"hi"},"idempotencyKey":"k"}`,
		`{"channel":"chat.1","payload":null}`,
		`{"Channel":"chat.1","payload":1}`,
		`{"channel":1}`, `[]`, `null`, `{`, ``, `{"payload":"\ud800"}`,
		`{"channel":"chat.1","op":"edit","target":3,"payload":1}`, `{"channel":"chat.1","op":"delete","target":18446744073709551615}`,
		`{"op":"react","target":-1}`, `{"ref":"3"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/publish", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req PublishRequest
		err := decodeJSON(r, &req)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Code != protocol.CodeBadRequest {
				t.Fatalf("decodeJSON(%q) = %v, want a bad_request", body, err)
			}
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(bytes.TrimSpace(body), &obj) != nil || obj == nil {
			t.Fatalf("decodeJSON accepted %q, which is not a JSON object", body)
		}
		// What checkMessage lets through is a publish the protocol
		// accepts: op and ref together, a payload but for a delete.
		if checkMessage(req.IdempotencyKey, req.Event, req.Payload, req.Op, req.Ref) == nil {
			if (req.Op == "") != (req.Ref == 0) || (len(req.Payload) == 0 && req.Op != protocol.OpDelete) {
				t.Fatalf("checkMessage accepted %+v", req)
			}
		}
	})
}

// FuzzParseQuery: any query string gets its values or a bad_request; a
// channel it hands out is valid, a limit within bounds.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"channel=chat.1&limit=10&after=5", "channel=chat.1&before=9", "channel=&limit=0",
		"channel=a&channel=b", "x=1", "limit=99999999999999999999", "%zz", "channel=chat..1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw, "channel", "limit", "after", "before")
		if err != nil {
			return
		}
		if ch, err := q.channel(); err == nil && !protocol.ValidChannel(ch) {
			t.Fatalf("channel() handed out %q, which is not a valid channel", ch)
		}
		if n, err := q.limit(); err == nil && (n < 1 || n > MaxLimit) {
			t.Fatalf("limit() = %d, outside 1..%d", n, MaxLimit)
		}
		_, _ = q.uint("after", 0, 0)
	})
}
