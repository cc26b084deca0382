package metrics_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testserver.LeakOptions()...) }

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			switch {
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Histogram != nil:
				out[name+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestMetricsFollowTraffic drives a node and checks that /metrics moves
// with it.
func TestMetricsFollowTraffic(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	sub := wstest.Auth(t, srv.URL, testserver.Token(t, "bob", "chat.>"))
	sub.Send(map[string]any{"type": "subscribe", "channel": "chat.1"})
	sub.Expect(protocol.TypeSubscribed)
	pub := wstest.Auth(t, srv.URL, testserver.Token(t, "alice", "chat.>"))
	for i := range 3 {
		pub.Send(map[string]any{"type": "publish", "id": fmt.Sprint(i), "channel": "chat.1", "payload": i})
		pub.Expect(protocol.TypeAck)
		sub.Expect(protocol.TypeMessage)
	}
	pub.Send(map[string]any{"type": "publish", "id": "0", "channel": "chat.1", "payload": 0})
	pub.Expect(protocol.TypeAck)
	pub.Send(map[string]any{"type": "subscribe", "channel": "secret"})
	pub.ExpectError(protocol.CodeForbidden)
	late := wstest.Auth(t, srv.URL, testserver.Token(t, "carol", "chat.>"))
	late.Send(map[string]any{"type": "subscribe", "channel": "chat.1", "lastSeq": 1})
	late.Expect(protocol.TypeSubscribed)
	late.Expect(protocol.TypeMessage)
	late.Expect(protocol.TypeMessage)
	sub.Send(map[string]any{"type": "typing", "channel": "chat.1"})
	late.Expect(protocol.TypeTypingNotice)

	tests := []struct {
		name string
		want float64
		min  bool // at least, rather than exactly
	}{
		{"herald_connections", 3, false},
		{"herald_connections_authenticated", 3, false},
		{"herald_subscriptions", 2, false},
		{"herald_channels", 1, false},
		{"herald_nodes", 1, false},
		{"herald_messages_in_total", 3, false},
		{"herald_publish_duplicates_total", 1, false},
		{"herald_resumes_total", 1, false},
		{"herald_replayed_messages_total", 2, false},
		{"herald_messages_out_total", 5, false},
		{"herald_errors_total", 1, false},
		{"herald_typing_frames_total", 1, false},
		{"herald_presence_frames_total", 0, false},
		{"herald_delivery_latency_seconds_count", 3, false},
		{"herald_frames_in_total", 10, true},
		{"herald_bytes_out_total", 100, true},
		{"go_goroutines", 1, true},
	}
	// Counters move when a write completes, which may be a moment after
	// the client has read it: scrape until they settle.
	var got map[string]float64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got = scrape(t, srv.HTTP)
		settled := true
		for _, tt := range tests {
			if v, ok := got[tt.name]; !ok || (tt.min && v < tt.want) || (!tt.min && v != tt.want) {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			break
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := got[tt.name]
			switch {
			case !ok:
				t.Fatalf("%s missing from /metrics", tt.name)
			case tt.min && v < tt.want:
				t.Errorf("%s = %v, want at least %v", tt.name, v, tt.want)
			case !tt.min && v != tt.want:
				t.Errorf("%s = %v, want %v", tt.name, v, tt.want)
			}
		})
	}
}
