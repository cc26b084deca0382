package protocol

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecode feeds arbitrary text to the frame decoder. It must never
// panic; what it accepts must validate without panicking, and a valid
// publish must survive encoding as a message frame and decoding again.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"type":"auth","token":"x"}`,
		`{"type":"subscribe","channel":"chat.1","lastSeq":4521}`,
		`{"type":"publish","id":"u","channel":"chat.1","event":"message.new","payload":{"a":[1,2]}}`,
		`[{"type":"ping"},{"type":"unsubscribe","channel":"a"}]`,
		`{"type":"publish","id":"u","channel":"c","payload":"\u2028"}`,
		`[]`, `{`, `null`, `{"lastSeq":1e3}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, err := Decode(nil, data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Decode error %T is not *Error", err)
			}
			return
		}
		if len(frames) == 0 || len(frames) > MaxBatch {
			t.Fatalf("Decode returned %d frames without error", len(frames))
		}
		for i := range frames {
			fr := &frames[i]
			if fr.ValidateClient() != nil || fr.Type != TypePublish {
				continue
			}
			out := AppendMessage(nil, &Message{Channel: fr.Channel, Seq: 1, ID: fr.ID,
				Event: fr.Event, Payload: fr.Payload, Timestamp: 1, From: fr.Token})
			var back Frame
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("message frame %s does not decode: %v", out, err)
			}
			if back.Channel != fr.Channel || back.ID != fr.ID || back.Event != fr.Event {
				t.Fatalf("round trip changed fields: %+v -> %+v", fr, back)
			}
		}
	})
}

// FuzzAppendString checks the JSON string encoder against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00\x7f", "\xff\xfe", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: not a JSON string: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("AppendString(%q) decodes to %q", s, back)
		}
	})
}
