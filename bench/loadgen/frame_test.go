package loadgen

import (
	"testing"

	"github.com/heraldrt/herald/protocol"
)

func TestParseMessageMatchesEncoder(t *testing.T) {
	tests := []struct {
		name string
		m    protocol.Message
	}{
		{"full", protocol.Message{Channel: "bench.fanout.1", Seq: 42, ID: "run-7", Event: "bench", Payload: []byte(`{"t":1,"s":2,"p":"xx"}`), Timestamp: 1711234567890, From: "publisher"}},
		{"no id, event or from", protocol.Message{Channel: "c", Seq: 1, Payload: []byte(`[1,2]`), Timestamp: 5}},
		{"null payload", protocol.Message{Channel: "c", Seq: 18446744073709551615, Timestamp: 1}},
		{"payload mentions the keys", protocol.Message{Channel: "c", Seq: 3, Payload: []byte(`{"x":",\"timestamp\":1,\"payload\":2"}`), Timestamp: 9, From: "a,\"timestamp\":3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := protocol.AppendMessage(nil, &tc.m)
			var m Message
			if !parseMessage(b, &m) {
				t.Fatalf("fast path refused %s", b)
			}
			want := string(tc.m.Payload)
			if want == "" {
				want = "null"
			}
			if string(m.Channel) != tc.m.Channel || m.Seq != tc.m.Seq || string(m.Payload) != want || m.Timestamp != tc.m.Timestamp || m.Size != len(b) {
				t.Fatalf("parsed %+v (payload %s) from %s", m, m.Payload, b)
			}
		})
	}
}

func TestParseMessageRefusesOtherFrames(t *testing.T) {
	for _, b := range []string{
		`{"type":"ack","id":"a","channel":"c","seq":1,"timestamp":2}`,
		`{"type":"message","seq":1,"channel":"c"}`,
		`{"type":"message","channel":"c","seq":x}`,
		`{"type":"message","channel":"c","seq":1,"timestamp":2}`,
		`[{"type":"message","channel":"c","seq":1,"payload":1,"timestamp":2}]`,
	} {
		var m Message
		if parseMessage([]byte(b), &m) {
			t.Errorf("fast path took %s", b)
		}
	}
}

func TestParseAck(t *testing.T) {
	b := protocol.AppendAck(nil, "run-12", "bench.fanout.1", 99, 1711234567890)
	id, seq, ok := parseAck(b)
	if !ok || string(id) != "run-12" || seq != 99 {
		t.Fatalf("parseAck(%s) = %q, %d, %v", b, id, seq, ok)
	}
	if _, _, ok := parseAck([]byte(`{"type":"ack","channel":"c","id":"x","seq":1}`)); ok {
		t.Fatal("fast path took an ack with reordered fields")
	}
}

func TestDecodeFramesSlowPath(t *testing.T) {
	fs, err := decodeFrames([]byte(`[{"type":"subscribed","channel":"a","seq":3},{"type":"error","code":"forbidden","message":"no","ref":"s1"}]`))
	if err != nil || len(fs) != 2 || fs[0].Seq != 3 || fs[1].Code != protocol.CodeForbidden {
		t.Fatalf("decodeFrames = %+v, %v", fs, err)
	}
	if _, err := decodeFrames([]byte(`{nope`)); err == nil {
		t.Fatal("decodeFrames accepted bad JSON")
	}
}

func TestStampRoundTrip(t *testing.T) {
	for _, size := range []int{0, 20, 100, 1000} {
		p := AppendStamp(nil, 1732000000123456789, 17, size)
		if size >= 50 && len(p) != size {
			t.Errorf("size %d: payload is %d bytes", size, len(p))
		}
		ts, step, ok := ParseStamp(p)
		if !ok || ts != 1732000000123456789 || step != 17 {
			t.Errorf("ParseStamp(%s) = %d, %d, %v", p, ts, step, ok)
		}
	}
	if _, _, ok := ParseStamp([]byte(`{"text":"hi"}`)); ok {
		t.Error("ParseStamp took a foreign payload")
	}
}

func TestNextSourceSpreadsOverLoopback(t *testing.T) {
	e := &Engine{cfg: Config{ConnsPerSource: 2}, firstSource: []byte{127, 0, 0, 2}}
	var got []string
	for range 6 {
		got = append(got, e.nextSource().IP.String())
	}
	want := []string{"127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sources %v, want %v", got, want)
		}
	}
	e.dials.Store(uint64(2 * 254))
	if ip := e.nextSource().IP.String(); ip != "127.0.1.0" {
		t.Fatalf("after 254 addresses: %s, want 127.0.1.0", ip)
	}
	if (&Engine{}).nextSource() != nil {
		t.Fatal("a non-loopback server got a fixed source address")
	}
}

func TestParsePresenceMatchesEncoder(t *testing.T) {
	members := []protocol.PresenceMember{{UserID: "alice", Connections: 2, Info: []byte(`{"name":"A \"channel\":\"x\""}`)}, {UserID: "bob", Connections: 1}}
	tests := []struct {
		name  string
		frame []byte
		state bool
		count int
	}{
		{"state after subscribe", protocol.AppendPresenceState(nil, "", "chat.1", 2, members), true, 2},
		{"state answering a query", protocol.AppendPresenceState(nil, "q1", "chat.1", 2, members), true, 2},
		{"count-only state", protocol.AppendPresenceState(nil, "", "chat.1", 5000, nil), true, 5000},
		{"empty state", protocol.AppendPresenceState(nil, "", "chat.1", 0, []protocol.PresenceMember{}), true, 0},
		{"diff", protocol.AppendPresenceDiff(nil, "chat.1", 7, members[:1], []string{"carol", "dave"}), false, 7},
		{"count-only diff", protocol.AppendPresenceDiff(nil, "chat.1", 4999, nil, nil), false, 4999},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Presence
			if !parsePresence(tc.frame, &p) {
				t.Fatalf("fast path refused %s", tc.frame)
			}
			if string(p.Channel) != "chat.1" || p.State != tc.state || p.Count != tc.count || p.Size != len(tc.frame) {
				t.Fatalf("parsed %+v (channel %s) from %s", p, p.Channel, tc.frame)
			}
		})
	}
}

func TestParsePresenceRefusesOtherFrames(t *testing.T) {
	for _, b := range []string{
		`{"type":"presence","id":"q","channel":"c"}`,
		`{"type":"presence_diff","count":1,"channel":"c"}`,
		`{"type":"presence_state","channel":"c","count":x}`,
		`{"type":"presence_diff","channel":"c"}`,
		`[{"type":"presence_diff","channel":"c","count":1}]`,
	} {
		var p Presence
		if parsePresence([]byte(b), &p) {
			t.Errorf("fast path took %s", b)
		}
	}
}
