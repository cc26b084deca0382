package sse

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// parseData is what an SSE reader makes of one event's data lines.
func parseData(ev []byte) (name string, data []byte) {
	var lines [][]byte
	for _, l := range bytes.Split(bytes.TrimSuffix(ev, []byte("\n\n")), []byte("\n")) {
		switch {
		case bytes.HasPrefix(l, []byte("event: ")):
			name = string(l[len("event: "):])
		case bytes.HasPrefix(l, []byte("data: ")):
			lines = append(lines, l[len("data: "):])
		}
	}
	return name, bytes.Join(lines, []byte("\n"))
}

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		name, event, data, want string
	}{
		{"frame", "", `{"type":"pong"}`, "data: {\"type\":\"pong\"}\n\n"},
		{"named", "close", `{"code":4001}`, "event: close\ndata: {\"code\":4001}\n\n"},
		{"LF in whitespace", "", "{\"a\":\n1}", "data: {\"a\":\ndata: 1}\n\n"},
		{"CRLF", "", "{\"a\":\r\n1}", "data: {\"a\":\ndata: 1}\n\n"},
		{"lone CR", "", "{\"a\":\r1}", "data: {\"a\":\ndata: 1}\n\n"},
		{"trailing LF", "", "{}\n", "data: {}\ndata: \n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendEvent(nil, tt.event, []byte(tt.data))); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitFrames(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"one", `{"type":"ping"}`, []string{`{"type":"ping"}`}},
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}},
		{"CRLF and blank lines", "\r\n{\"a\":1}\r\n\r\n  {\"b\":2}  ", []string{`{"a":1}`, `{"b":2}`}},
		{"empty", "", nil},
		{"only blanks", "\n \n\t\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			splitFrames([]byte(tt.body), func(f []byte) bool { got = append(got, string(f)); return true })
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzEventRoundTrip: whatever JSON a frame holds, an SSE reader gets the
// same JSON value back, and an event never ends early.
func FuzzEventRoundTrip(f *testing.F) {
	f.Add([]byte(`{"type":"message","payload":{"text":"hi"}}`), "")
	f.Add([]byte("{\"a\":\r\n[1,\r2]\n}"), "close")
	f.Fuzz(func(t *testing.T, data []byte, event string) {
		if strings.ContainsAny(event, "\r\n") || !json.Valid(data) {
			return
		}
		ev := appendEvent(nil, event, data)
		if i := bytes.Index(ev, []byte("\n\n")); i != len(ev)-2 {
			t.Fatalf("event ends at %d of %d: %q", i, len(ev), ev)
		}
		name, got := parseData(ev)
		if name != event {
			t.Fatalf("event name %q, want %q", name, event)
		}
		var a, b any
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("reader got %q: %v", got, err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("round trip changed %s into %s", ja, jb)
		}
	})
}

// FuzzSplitFrames: the frames of a body are its non-blank lines, trimmed,
// in order, and none holds a line break.
func FuzzSplitFrames(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n\n{\"b\":2}\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var n int
		splitFrames(body, func(frame []byte) bool {
			n++
			if len(frame) == 0 || bytes.IndexByte(frame, '\n') >= 0 || !bytes.Equal(frame, bytes.TrimSpace(frame)) {
				t.Fatalf("frame %q", frame)
			}
			return true
		})
		want := 0
		for _, l := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				want++
			}
		}
		if n != want {
			t.Fatalf("%d frames from %d non-blank lines", n, want)
		}
	})
}
