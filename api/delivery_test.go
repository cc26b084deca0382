package api_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

// TestDeliveryToWebSocket: a message published through the API reaches a
// WebSocket subscriber as a message frame with the event, payload, id,
// seq and timestamp of the API's answer, and no from (it is the
// server's); a user's backend-only channel gets it too.
func TestDeliveryToWebSocket(t *testing.T) {
	srv, c := startNode(t, testserver.Options{})
	tests := []struct {
		name    string
		channel string
		body    map[string]any
	}{
		{"chat channel", "live.room", map[string]any{
			"event": "message.new", "payload": map[string]any{"text": "from the backend", "n": []int{1, 2}}, "idempotencyKey": "deliver-1",
		}},
		{"the user's own channel", "user.kim", map[string]any{"payload": "just for kim"}},
		{"null payload", "live.room", map[string]any{"payload": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, _ := connect(t, srv, "kim", tt.channel)
			tt.body["channel"] = tt.channel
			var ack api.PublishResponse
			res := c.post(t, "/api/publish", tt.body)
			res.expectOK(t)
			res.decode(t, &ack)
			f := ws.Expect(protocol.TypeMessage)
			want, _ := json.Marshal(tt.body["payload"])
			event, _ := tt.body["event"].(string)
			if f.Channel != tt.channel || f.Seq != ack.Seq || f.ID != ack.ID || f.Timestamp != ack.Timestamp ||
				f.Event != event || f.From != "" || !jsonEqual(t, f.Payload, want) {
				t.Fatalf("got %+v (payload %s), want the API's message %+v with payload %s and no from", f, f.Payload, ack, want)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
