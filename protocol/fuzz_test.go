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
		`{"type":"history","id":"h","channel":"chat.1","after":10,"limit":50}`,
		`{"type":"history","id":"h","channel":"chat.1","before":1,"after":2}`,
		`{"type":"history","id":"h","channel":"c","limit":-1,"before":0}`,
		`{"type":"publish","id":"e","channel":"c","op":"edit","target":3,"payload":{"t":1}}`,
		`{"type":"publish","id":"r","channel":"c","op":"react","target":3,"payload":"\ud83d\udc4d"}`,
		`{"type":"publish","id":"d","channel":"c","op":"delete","target":18446744073709551615}`,
		`{"type":"error","code":"x","ref":"p"}`, `{"target":-1}`, `{"target":[1]}`,
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
			checkMarshal(t, fr)
			if fr.ValidateClient() != nil {
				continue
			}
			if fr.Type == TypeHistory {
				checkValidHistory(t, fr)
				continue
			}
			if fr.Type != TypePublish {
				continue
			}
			if (fr.Op == "") != (fr.Target == 0) || (len(fr.Payload) == 0 && fr.Op != OpDelete) {
				t.Fatalf("ValidateClient accepted publish %+v", fr)
			}
			if fr.Op == OpReact || fr.Op == OpUnreact {
				if key, perr := ReactionKey(fr.Payload); perr != nil || key == "" || len(key) > MaxReactionLen {
					t.Fatalf("ValidateClient accepted reaction %s: %q, %v", fr.Payload, key, perr)
				}
			}
			out := AppendMessage(nil, &Message{Channel: fr.Channel, Seq: 1, ID: fr.ID,
				Event: fr.Event, Payload: fr.Payload, Timestamp: 1, From: fr.Token, Op: fr.Op, Ref: fr.Target})
			var back Frame
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("message frame %s does not decode: %v", out, err)
			}
			if back.Channel != fr.Channel || back.ID != fr.ID || back.Event != fr.Event || back.Op != fr.Op || back.Target != fr.Target {
				t.Fatalf("round trip changed fields: %+v -> %+v", fr, back)
			}
		}
	})
}

// checkMarshal checks that a decoded frame encodes, with encoding/json as
// the Go SDK does, to a frame that decodes to the same type, id, ref and
// op.
func checkMarshal(t *testing.T, fr *Frame) {
	t.Helper()
	b, err := json.Marshal(fr)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", fr, err)
	}
	back, err := Decode(nil, b)
	if err != nil || len(back) != 1 {
		t.Fatalf("%s does not decode: %v", b, err)
	}
	g := &back[0]
	if g.Type != fr.Type || g.ID != fr.ID || g.Op != fr.Op || g.Ref != fr.Ref || g.Target != fr.Target {
		t.Fatalf("%+v encodes as %s, which decodes to %+v", fr, b, g)
	}
}

// checkValidHistory checks what ValidateClient promises the hub about a
// history frame it accepted, and that the page answering it decodes.
func checkValidHistory(t *testing.T, fr *Frame) {
	t.Helper()
	if fr.ID == "" || (fr.After != nil && fr.Before != nil) ||
		(fr.Before != nil && *fr.Before == 0) || (fr.Limit != nil && *fr.Limit < 1) {
		t.Fatalf("ValidateClient accepted %+v", fr)
	}
	out := AppendHistoryPage(nil, &HistoryPage{ID: fr.ID, Channel: fr.Channel, Head: 3, Oldest: 1,
		Messages: []Message{{Seq: 3, ID: fr.ID, Payload: []byte(`{"a":1}`), Timestamp: 1, From: fr.Channel}}})
	var back Frame
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("history page %s does not decode: %v", out, err)
	}
	if back.ID != fr.ID || back.Channel != fr.Channel || len(back.Messages) != 1 || back.Messages[0].From != fr.Channel {
		t.Fatalf("history page round trip changed fields: %s -> %+v", out, back)
	}
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
