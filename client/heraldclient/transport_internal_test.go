package heraldclient

import (
	"strings"
	"testing"
)

// TestSSEEndpoint: the SSE stream URL derived from a WebSocket endpoint.
func TestSSEEndpoint(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"ws", "ws://127.0.0.1:8080/ws", "http://127.0.0.1:8080/sse"},
		{"wss", "wss://chat.example.com/ws", "https://chat.example.com/sse"},
		{"prefix", "wss://example.com/herald/ws", "https://example.com/herald/sse"},
		{"trailing slash", "ws://example.com/ws/", "http://example.com/sse"},
		{"no path", "ws://example.com", "http://example.com/sse"},
		{"http kept", "https://example.com/ws", "https://example.com/sse"},
		{"query kept", "ws://example.com/ws?region=eu", "http://example.com/sse?region=eu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sseEndpoint(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("sseEndpoint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestTransportPicker: the transport of each attempt, given which ones
// fail. "W"/"S" is an attempt over WebSocket/SSE, "+" after it that it
// connected (and later dropped), "-" that it failed before auth_ok, and
// ">" that the run loop moved on to the next endpoint after it.
func TestTransportPicker(t *testing.T) {
	tests := []struct {
		name string
		list []Transport
		// ok says whether the attempt over a transport connects.
		ok   func(attempt int, tr Transport) bool
		want string
	}{
		{"websocket works", []Transport{TransportWebSocket, TransportSSE},
			func(int, Transport) bool { return true },
			"W+> W+> W+> W+> W+> W+> W+>"},
		{"websocket blocked: sse, and websocket again every 5th",
			[]Transport{TransportWebSocket, TransportSSE},
			func(_ int, tr Transport) bool { return tr == TransportSSE },
			"W- S+> S+> S+> S+> W- S+> S+> S+> S+> W- S+>"},
		{"websocket comes back", []Transport{TransportWebSocket, TransportSSE},
			func(i int, tr Transport) bool { return tr == TransportSSE || i > 3 },
			"W- S+> S+> S+> S+> W+> W+> W+>"},
		{"all down: each transport, then the next endpoint",
			[]Transport{TransportWebSocket, TransportSSE},
			func(int, Transport) bool { return false },
			"W- S-> W- S-> W- S->"},
		{"websocket only", []Transport{TransportWebSocket},
			func(int, Transport) bool { return false },
			"W-> W-> W->"},
		{"sse first", []Transport{TransportSSE, TransportWebSocket},
			func(int, Transport) bool { return true },
			"S+> S+> S+>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := transportPicker{list: tt.list}
			n := len(strings.Fields(tt.want))
			var got []string
			for i := 0; i < n; i++ {
				ti := p.next()
				tr := p.list[ti]
				s := map[Transport]string{TransportWebSocket: "W", TransportSSE: "S"}[tr]
				moveOn := true
				if tt.ok(i, tr) {
					p.connected(ti)
					s += "+"
				} else {
					moveOn = p.failed(ti)
					s += "-"
				}
				if moveOn {
					s += ">"
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Fatalf("attempts\n got %s\nwant %s", g, tt.want)
			}
		})
	}
}
