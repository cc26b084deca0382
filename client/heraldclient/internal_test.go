package heraldclient

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/protocol"
)

func TestBackoff(t *testing.T) {
	const min, max = 250 * time.Millisecond, 30 * time.Second
	tests := []struct {
		name    string
		attempt int
		ceiling time.Duration
	}{
		{"first", 0, 250 * time.Millisecond},
		{"second", 1, 500 * time.Millisecond},
		{"fifth", 4, 4 * time.Second},
		{"capped", 7, max},
		{"far past the cap", 200, max},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackoff(min, max)
			b.attempt = tt.attempt
			var asked time.Duration
			b.jitter = func(n time.Duration) time.Duration { asked = n; return n - 1 }
			if d := b.next(); asked != tt.ceiling || d != tt.ceiling-1 {
				t.Fatalf("next drew below %v (got %v), want below %v", asked, d, tt.ceiling)
			}
			if b.attempt != tt.attempt+1 {
				t.Fatalf("attempt %d after next, want %d", b.attempt, tt.attempt+1)
			}
		})
	}
	t.Run("full jitter stays in range", func(t *testing.T) {
		b := newBackoff(min, max)
		for i := 0; i < 1000; i++ {
			c := b.ceiling()
			if d := b.next(); d < 0 || d >= c {
				t.Fatalf("delay %v outside [0, %v)", d, c)
			}
		}
	})
	t.Run("reset", func(t *testing.T) {
		b := newBackoff(min, max)
		for i := 0; i < 10; i++ {
			b.next()
		}
		b.reset()
		if c := b.ceiling(); c != min {
			t.Fatalf("ceiling %v after reset, want %v", c, min)
		}
	})
}

// TestDecodeServer: the server may batch frames in a JSON array, of any
// length; the client handles each in order.
func TestDecodeServer(t *testing.T) {
	big := "[" + strings.TrimSuffix(strings.Repeat(`{"type":"pong"},`, 150), ",") + "]"
	tests := []struct {
		name  string
		in    string
		types []string
		err   bool
	}{
		{"object", `{"type":"pong","timestamp":1}`, []string{"pong"}, false},
		{"batch", `[{"type":"ack","id":"a","channel":"c","seq":1,"timestamp":1},{"type":"message","channel":"c","seq":1,"payload":{}}]`, []string{"ack", "message"}, false},
		{"batch over the client limit", big, strings.Split(strings.Repeat("pong ", 150), " ")[:150], false},
		{"leading whitespace", " \n{\"type\":\"pong\"}", []string{"pong"}, false},
		{"unknown fields and types", `{"type":"presence","who":["x"]}`, []string{"presence"}, false},
		{"not JSON", `hello`, nil, true},
		{"wrong field type", `{"type":"message","seq":"1"}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := decodeServer([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err %v", err)
			}
			if len(frames) != len(tt.types) {
				t.Fatalf("%d frames, want %d", len(frames), len(tt.types))
			}
			for i, f := range frames {
				if f.Type != tt.types[i] {
					t.Fatalf("frame %d is %q, want %q", i, f.Type, tt.types[i])
				}
			}
		})
	}
	t.Run("payloads are not shared", func(t *testing.T) {
		frames, err := decodeServer([]byte(`[{"type":"message","payload":{"a":1}},{"type":"message","payload":{"b":2}}]`))
		if err != nil {
			t.Fatal(err)
		}
		if string(frames[0].Payload) != `{"a":1}` || string(frames[1].Payload) != `{"b":2}` {
			t.Fatalf("payloads %s %s", frames[0].Payload, frames[1].Payload)
		}
	})
}

// TestMustStop pins the close-code policy to PROTOCOL.md §10.
func TestMustStop(t *testing.T) {
	stop := map[int]bool{protocol.CloseNormal: true, protocol.ClosePolicy: true, protocol.CloseForbidden: true}
	for code, reason := range protocol.CloseCodes {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &CloseError{Code: code, Reason: reason})
			if got := mustStop(err); got != stop[code] {
				t.Fatalf("mustStop(%d %s) = %v", code, reason, got)
			}
		})
	}
	for _, err := range []error{
		&CloseError{Code: 4999}, // unknown: like 1011
		&CloseError{Code: 1006},
		ErrHeartbeatTimeout,
		errors.New("connection reset by peer"),
	} {
		if mustStop(err) {
			t.Errorf("mustStop(%v) = true, want a reconnect", err)
		}
	}
}

func TestErrorFromFrame(t *testing.T) {
	for _, code := range protocol.Codes {
		if e := errorFromFrame(code, "m"); e.Code != code || e.Message != "m" {
			t.Errorf("%s became %+v", code, e)
		}
	}
	e := errorFromFrame("teapot", "short and stout")
	if e.Code != protocol.CodeInternal || !strings.Contains(e.Message, "teapot") {
		t.Fatalf("unknown code became %+v", e)
	}
	if !errors.Is(fmt.Errorf("x: %w", e), &Error{Code: protocol.CodeInternal}) {
		t.Fatal("errors.Is does not match by code")
	}
}
