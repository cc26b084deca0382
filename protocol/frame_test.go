package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func u64(v uint64) *uint64 { return &v }

func intp(v int) *int { return &v }

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []Frame
		wantCode Code
	}{
		{"auth", `{"type":"auth","token":"t"}`, []Frame{{Type: "auth", Token: "t"}}, ""},
		{"subscribe from now", `{"type":"subscribe","channel":"chat.1"}`, []Frame{{Type: "subscribe", Channel: "chat.1"}}, ""},
		{"subscribe lastSeq 0", `{"type":"subscribe","channel":"chat.1","lastSeq":0}`, []Frame{{Type: "subscribe", Channel: "chat.1", LastSeq: u64(0)}}, ""},
		{"publish", `{"type":"publish","id":"a","channel":"c","event":"e","payload":{"x":1}}`,
			[]Frame{{Type: "publish", ID: "a", Channel: "c", Event: "e", Payload: json.RawMessage(`{"x":1}`)}}, ""},
		{"history after", `{"type":"history","id":"h1","channel":"chat.1","after":10,"limit":50}`,
			[]Frame{{Type: "history", ID: "h1", Channel: "chat.1", After: u64(10), Limit: intp(50)}}, ""},
		{"history after 0", `{"type":"history","id":"h","channel":"c","after":0}`, []Frame{{Type: "history", ID: "h", Channel: "c", After: u64(0)}}, ""},
		{"history before", `{"type":"history","id":"h","channel":"c","before":100}`, []Frame{{Type: "history", ID: "h", Channel: "c", Before: u64(100)}}, ""},
		{"history limit not an integer", `{"type":"history","id":"h","channel":"c","limit":1.5}`, nil, CodeBadRequest},
		{"history negative after", `{"type":"history","id":"h","channel":"c","after":-1}`, nil, CodeBadRequest},
		{"edit", `{"type":"publish","id":"e","channel":"c","op":"edit","target":7,"payload":2}`,
			[]Frame{{Type: "publish", ID: "e", Channel: "c", Op: "edit", Target: 7, Payload: json.RawMessage(`2`)}}, ""},
		{"ref of an error", `{"type":"error","code":"forbidden","message":"m","ref":"p1"}`,
			[]Frame{{Type: "error", Code: CodeForbidden, Message: "m", Ref: "p1"}}, ""},
		{"null ref", `{"type":"ping","ref":null}`, []Frame{{Type: "ping"}}, ""},
		{"negative target", `{"type":"publish","id":"e","channel":"c","op":"edit","target":-1,"payload":2}`, nil, CodeBadRequest},
		{"fractional target", `{"type":"publish","id":"e","channel":"c","op":"edit","target":1.5,"payload":2}`, nil, CodeBadRequest},
		{"target of another type", `{"type":"publish","id":"e","channel":"c","op":"edit","target":true,"payload":2}`, nil, CodeBadRequest},
		{"wrong target in a batch", `[{"type":"ping"},{"type":"publish","target":{}}]`, nil, CodeBadRequest},
		{"reactions", `{"type":"message","channel":"c","seq":1,"payload":null,"timestamp":1,"deleted":true,"editedAt":5,"reactions":{"👍":{"count":2,"users":["a","b"]}}}`,
			[]Frame{{Type: "message", Channel: "c", Seq: 1, Payload: json.RawMessage(`null`), Timestamp: 1, Deleted: true, EditedAt: 5,
				Reactions: map[string]Reaction{"👍": {Count: 2, Users: []string{"a", "b"}}}}}, ""},
		{"unknown fields ignored", `{"type":"ping","future":true}`, []Frame{{Type: "ping"}}, ""},
		{"leading space", " \n{\"type\":\"ping\"}", []Frame{{Type: "ping"}}, ""},
		{"batch", `[{"type":"ping","id":"1"},{"type":"ping","id":"2"}]`, []Frame{{Type: "ping", ID: "1"}, {Type: "ping", ID: "2"}}, ""},
		{"empty", ``, nil, CodeBadRequest},
		{"not json", `hello`, nil, CodeBadRequest},
		{"truncated", `{"type":"ping"`, nil, CodeBadRequest},
		{"string", `"ping"`, nil, CodeBadRequest},
		{"number", `42`, nil, CodeBadRequest},
		{"wrong field type", `{"type":"subscribe","channel":"c","lastSeq":"x"}`, nil, CodeBadRequest},
		{"negative lastSeq", `{"type":"subscribe","channel":"c","lastSeq":-1}`, nil, CodeBadRequest},
		{"empty batch", `[]`, nil, CodeBadRequest},
		{"batch of non-objects", `[1,2]`, nil, CodeBadRequest},
		{"batch too long", "[" + strings.Repeat(`{"type":"ping"},`, MaxBatch) + `{"type":"ping"}]`, nil, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(nil, []byte(tt.in))
			if tt.wantCode != "" {
				perr, ok := err.(*Error)
				if !ok || perr.Code != tt.wantCode {
					t.Fatalf("Decode(%q) error = %v, want code %s", tt.in, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidateClient(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen+1)
	tests := []struct {
		name     string
		frame    Frame
		wantCode Code
	}{
		{"auth", Frame{Type: TypeAuth, Token: "t"}, ""},
		{"auth without token", Frame{Type: TypeAuth}, CodeBadRequest},
		{"auth token too long", Frame{Type: TypeAuth, Token: strings.Repeat("t", MaxTokenLen+1)}, CodeTooLarge},
		{"subscribe", Frame{Type: TypeSubscribe, Channel: "chat.1"}, ""},
		{"subscribe without channel", Frame{Type: TypeSubscribe}, CodeBadRequest},
		{"subscribe to pattern", Frame{Type: TypeSubscribe, Channel: "chat.*"}, CodeBadRequest},
		{"subscribe channel too long", Frame{Type: TypeSubscribe, Channel: strings.Repeat("c", MaxChannelLen+1)}, CodeTooLarge},
		{"unsubscribe", Frame{Type: TypeUnsubscribe, Channel: "chat.1"}, ""},
		{"publish", Frame{Type: TypePublish, ID: "1", Channel: "c", Event: "message.new", Payload: json.RawMessage(`{}`)}, ""},
		{"publish without id", Frame{Type: TypePublish, Channel: "c", Payload: json.RawMessage(`{}`)}, CodeBadRequest},
		{"publish without payload", Frame{Type: TypePublish, ID: "1", Channel: "c"}, CodeBadRequest},
		{"publish bad channel", Frame{Type: TypePublish, ID: "1", Channel: "a..b", Payload: json.RawMessage(`1`)}, CodeBadRequest},
		{"publish event with quote", Frame{Type: TypePublish, ID: "1", Channel: "c", Event: `a"b`, Payload: json.RawMessage(`1`)}, CodeBadRequest},
		{"publish event too long", Frame{Type: TypePublish, ID: "1", Channel: "c", Event: long, Payload: json.RawMessage(`1`)}, CodeTooLarge},
		{"history newest", Frame{Type: TypeHistory, ID: "h", Channel: "c"}, ""},
		{"history after", Frame{Type: TypeHistory, ID: "h", Channel: "c", After: u64(0), Limit: intp(1)}, ""},
		{"history before", Frame{Type: TypeHistory, ID: "h", Channel: "c", Before: u64(1)}, ""},
		{"history without id", Frame{Type: TypeHistory, Channel: "c"}, CodeBadRequest},
		{"history without channel", Frame{Type: TypeHistory, ID: "h"}, CodeBadRequest},
		{"history of a pattern", Frame{Type: TypeHistory, ID: "h", Channel: "c.>"}, CodeBadRequest},
		{"history channel too long", Frame{Type: TypeHistory, ID: "h", Channel: strings.Repeat("c", MaxChannelLen+1)}, CodeTooLarge},
		{"history after and before", Frame{Type: TypeHistory, ID: "h", Channel: "c", After: u64(1), Before: u64(5)}, CodeBadRequest},
		{"history before 0", Frame{Type: TypeHistory, ID: "h", Channel: "c", Before: u64(0)}, CodeBadRequest},
		{"history limit 0", Frame{Type: TypeHistory, ID: "h", Channel: "c", Limit: intp(0)}, CodeBadRequest},
		{"history negative limit", Frame{Type: TypeHistory, ID: "h", Channel: "c", Limit: intp(-5)}, CodeBadRequest},
		{"edit", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpEdit, Target: 3, Payload: json.RawMessage(`{}`)}, ""},
		{"edit without payload", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpEdit, Target: 3}, CodeBadRequest},
		{"delete without payload", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpDelete, Target: 3}, ""},
		{"delete with payload", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpDelete, Target: 3, Payload: json.RawMessage(`{"why":"spam"}`)}, ""},
		{"op without ref", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpDelete}, CodeBadRequest},
		{"ref without op", Frame{Type: TypePublish, ID: "1", Channel: "c", Target: 3, Payload: json.RawMessage(`1`)}, CodeBadRequest},
		{"string ref", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpEdit, Ref: "3", Payload: json.RawMessage(`1`)}, CodeBadRequest},
		{"unknown op", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: "pin", Target: 3, Payload: json.RawMessage(`1`)}, CodeBadRequest},
		{"react", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpReact, Target: 3, Payload: json.RawMessage(`"👍"`)}, ""},
		{"unreact", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpUnreact, Target: 3, Payload: json.RawMessage(`"+1"`)}, ""},
		{"react without a key", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpReact, Target: 3}, CodeBadRequest},
		{"react with an empty key", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpReact, Target: 3, Payload: json.RawMessage(`""`)}, CodeBadRequest},
		{"react with a number", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpReact, Target: 3, Payload: json.RawMessage(`1`)}, CodeBadRequest},
		{"react with an object", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpReact, Target: 3, Payload: json.RawMessage(`{"k":"x"}`)}, CodeBadRequest},
		{"react with a key of 64 bytes", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpReact, Target: 3, Payload: json.RawMessage(`"` + strings.Repeat("👍", 16) + `"`)}, ""},
		{"react with a key of 65 bytes", Frame{Type: TypePublish, ID: "1", Channel: "c", Op: OpReact, Target: 3, Payload: json.RawMessage(`"` + strings.Repeat("👍", 16) + `x"`)}, CodeTooLarge},
		{"id too long", Frame{Type: TypePing, ID: long}, CodeTooLarge},
		{"id with control char", Frame{Type: TypePing, ID: "a\nb"}, CodeBadRequest},
		{"ping", Frame{Type: TypePing}, ""},
		{"no type", Frame{}, CodeBadRequest},
		{"server type from client", Frame{Type: TypeAck}, CodeBadRequest},
		{"unknown type", Frame{Type: "launch"}, CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.frame.ValidateClient()
			switch {
			case tt.wantCode == "" && err != nil:
				t.Fatalf("ValidateClient() = %v, want nil", err)
			case tt.wantCode != "" && (err == nil || err.Code != tt.wantCode):
				t.Fatalf("ValidateClient() = %v, want code %s", err, tt.wantCode)
			}
		})
	}
}

// TestAppendRoundTrip checks that every server frame the Append functions
// write decodes, with encoding/json, into the fields it was given.
func TestAppendRoundTrip(t *testing.T) {
	msg := &Message{Channel: "chat.1", Seq: 7, ID: "m1", Event: "message.new",
		Payload: []byte(`{"text":"hi \"there\""}`), Timestamp: 1711234567890, From: "alice\u2028"}
	tests := []struct {
		name string
		got  []byte
		want Frame
	}{
		{"message", AppendMessage(nil, msg), Frame{Type: TypeMessage, Channel: "chat.1", Seq: 7, ID: "m1",
			Event: "message.new", Payload: json.RawMessage(`{"text":"hi \"there\""}`), Timestamp: 1711234567890, From: "alice\u2028"}},
		{"message without optional fields", AppendMessage(nil, &Message{Channel: "c", Seq: 1, Timestamp: 5}),
			Frame{Type: TypeMessage, Channel: "c", Seq: 1, Payload: json.RawMessage(`null`), Timestamp: 5}},
		{"ack", AppendAck(nil, "p1", "c", 3, 9), Frame{Type: TypeAck, ID: "p1", Channel: "c", Seq: 3, Timestamp: 9}},
		{"auth_ok", AppendAuthOK(nil, "a", "conn1", "bob", 42), Frame{Type: TypeAuthOK, ID: "a", ConnectionID: "conn1", UserID: "bob", ExpiresAt: 42}},
		{"subscribed", AppendSubscribed(nil, "s", "c", 10, true), Frame{Type: TypeSubscribed, ID: "s", Channel: "c", Seq: 10, Recovered: true}},
		{"unsubscribed", AppendUnsubscribed(nil, "", "c"), Frame{Type: TypeUnsubscribed, Channel: "c"}},
		{"pong", AppendPong(nil, "p", 77), Frame{Type: TypePong, ID: "p", Timestamp: 77}},
		{"snapshot_required", AppendSnapshotRequired(nil, "", "c", 4530, 3000), Frame{Type: TypeSnapshotRequired, Channel: "c", Seq: 4530, OldestSeq: 3000}},
		{"token_expiring", AppendTokenExpiring(nil, 99), Frame{Type: TypeTokenExpiring, ExpiresAt: 99}},
		{"presence_state", AppendPresenceState(nil, "q", "c", 2, []PresenceMember{{UserID: "a", Connections: 2, Info: json.RawMessage(`{"name":"A"}`)}, {UserID: "b", Connections: 1}}),
			Frame{Type: TypePresenceState, ID: "q", Channel: "c", Count: 2, Members: []PresenceMember{{UserID: "a", Connections: 2, Info: json.RawMessage(`{"name":"A"}`)}, {UserID: "b", Connections: 1}}}},
		{"presence_state count only", AppendPresenceState(nil, "", "c", 5000, nil), Frame{Type: TypePresenceState, Channel: "c", Count: 5000}},
		{"presence_diff", AppendPresenceDiff(nil, "c", 3, []PresenceMember{{UserID: "x\"", Connections: 1}}, []string{"y", "z"}),
			Frame{Type: TypePresenceDiff, Channel: "c", Count: 3, Joins: []PresenceMember{{UserID: "x\"", Connections: 1}}, Leaves: []string{"y", "z"}}},
		{"presence_diff count only", AppendPresenceDiff(nil, "c", 7, nil, nil), Frame{Type: TypePresenceDiff, Channel: "c", Count: 7}},
		{"subscribed with unread", AppendSubscribedUnread(nil, "s", "c", 10, false, &Unread{ReadSeq: 7, Unread: 3}), Frame{Type: TypeSubscribed, ID: "s", Channel: "c", Seq: 10, ReadSeq: 7, Unread: 3}},
		{"receipts", AppendReceipts(nil, "c", map[string]uint64{"b": 9, "a": 4}, map[string]uint64{"a": 3}),
			Frame{Type: TypeReceipts, Channel: "c", Delivered: map[string]uint64{"a": 4, "b": 9}, Read: map[string]uint64{"a": 3}}},
		{"user_status online", AppendUserStatus(nil, "status.bob", &UserStatus{UserID: "bob", Online: true, Devices: 2}), Frame{Type: TypeUserStatus, Channel: "status.bob", UserID: "bob", Online: true, Devices: 2}},
		{"user_status offline", AppendUserStatus(nil, "status.bob", &UserStatus{UserID: "bob", LastSeen: 1711234567890}), Frame{Type: TypeUserStatus, Channel: "status.bob", UserID: "bob", LastSeen: 1711234567890}},
		{"typing_notice", AppendTypingNotice(nil, "c", "bob", 5000), Frame{Type: TypeTypingNotice, Channel: "c", UserID: "bob", TTL: 5000}},
		{"error", AppendError(nil, &Error{Code: CodeForbidden, Message: "no\n"}, "r1", "c"), Frame{Type: TypeError, Code: CodeForbidden, Message: "no\n", Ref: "r1", Channel: "c"}},
		{"op entry", AppendMessage(nil, &Message{Channel: "c", Seq: 9, ID: "e", Op: OpEdit, Ref: 7, Payload: []byte(`{"text":"hi!"}`), Timestamp: 6, From: "alice"}),
			Frame{Type: TypeMessage, Channel: "c", Seq: 9, ID: "e", Op: OpEdit, Target: 7, Payload: json.RawMessage(`{"text":"hi!"}`), Timestamp: 6, From: "alice"}},
		{"edited with reactions", AppendMessage(nil, &Message{Channel: "c", Seq: 7, Payload: []byte(`1`), Timestamp: 5, EditedAt: 6,
			Reactions: []Reaction{{Key: "👍", Count: 3, Users: []string{"a", "b"}}, {Key: "\"q\"", Count: 1, Users: []string{"c"}}}}),
			Frame{Type: TypeMessage, Channel: "c", Seq: 7, Payload: json.RawMessage(`1`), Timestamp: 5, EditedAt: 6,
				Reactions: map[string]Reaction{"👍": {Count: 3, Users: []string{"a", "b"}}, "\"q\"": {Count: 1, Users: []string{"c"}}}}},
		{"deleted", AppendMessage(nil, &Message{Channel: "c", Seq: 7, Payload: []byte(`"gone"`), Timestamp: 5, Deleted: true}),
			Frame{Type: TypeMessage, Channel: "c", Seq: 7, Payload: json.RawMessage(`null`), Timestamp: 5, Deleted: true}},
		{"history_page", AppendHistoryPage(nil, &HistoryPage{ID: "h1", Channel: "chat.1", Head: 9, Oldest: 2, Messages: []Message{*msg, {Channel: "ignored", Seq: 8, Timestamp: 6}}}),
			Frame{Type: TypeHistoryPage, ID: "h1", Channel: "chat.1", Seq: 9, OldestSeq: 2, Messages: []Frame{
				{Seq: 7, ID: "m1", Event: "message.new", Payload: json.RawMessage(`{"text":"hi \"there\""}`), Timestamp: 1711234567890, From: "alice\u2028"},
				{Seq: 8, Payload: json.RawMessage(`null`), Timestamp: 6},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid(tt.got) {
				t.Fatalf("invalid JSON: %s", tt.got)
			}
			var f Frame
			if err := json.Unmarshal(tt.got, &f); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, tt.want) {
				t.Errorf("got %+v\nwant %+v\n(json %s)", f, tt.want, tt.got)
			}
		})
	}
}

func TestSubscribedCarriesZeroSeq(t *testing.T) {
	// A new channel's head is 0, and clients rely on seeing it.
	got := string(AppendSubscribed(nil, "", "c", 0, false))
	if !strings.Contains(got, `"seq":0`) || !strings.Contains(got, `"recovered":false`) {
		t.Errorf("AppendSubscribed = %s, want seq 0 and recovered false present", got)
	}
}

func TestHistoryPageCarriesEmptyPositions(t *testing.T) {
	// An empty channel's page still says where the log stands, and has
	// a messages array a client can range over.
	got := string(AppendHistoryPage(nil, &HistoryPage{ID: "h", Channel: "c", Head: 0, Oldest: 1}))
	want := `{"type":"history_page","id":"h","channel":"c","seq":0,"oldestSeq":1,"messages":[]}`
	if got != want {
		t.Errorf("AppendHistoryPage = %s, want %s", got, want)
	}
}

// TestFrameMarshal checks that the frames a client encodes with
// encoding/json come out as documented: "ref" the string of an error,
// "target" the seq of an op.
func TestFrameMarshal(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
		json string
	}{
		{"edit", Frame{Type: TypePublish, ID: "e", Channel: "c", Op: OpEdit, Target: 7, Payload: json.RawMessage(`1`)},
			`{"type":"publish","id":"e","channel":"c","payload":1,"op":"edit","target":7}`},
		{"error", Frame{Type: TypeError, Ref: "p1", Code: CodeForbidden, Message: "no"}, `{"type":"error","ref":"p1","code":"forbidden","message":"no"}`},
		{"neither", Frame{Type: TypePing, ID: "p"}, `{"type":"ping","id":"p"}`},
		{"page", Frame{Type: TypeHistoryPage, Messages: []Frame{{Seq: 2, Op: OpDelete, Target: 1}}},
			`{"type":"history_page","messages":[{"type":"","seq":2,"op":"delete","target":1}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.json {
				t.Errorf("json.Marshal = %s, want %s", b, tt.json)
			}
			var back Frame
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.f) {
				t.Errorf("round trip %+v, want %+v", back, tt.f)
			}
		})
	}
}

func TestReactionKey(t *testing.T) {
	tests := []struct {
		payload, key string
		code         Code
	}{
		{`"👍"`, "👍", ""},
		{` "+1" `, "+1", ""},
		{`"\u00e9"`, "é", ""},
		{`"` + strings.Repeat("k", MaxReactionLen) + `"`, strings.Repeat("k", MaxReactionLen), ""},
		{`"` + strings.Repeat("k", MaxReactionLen+1) + `"`, "", CodeTooLarge},
		{`""`, "", CodeBadRequest},
		{``, "", CodeBadRequest},
		{`null`, "", CodeBadRequest},
		{`["👍"]`, "", CodeBadRequest},
	}
	for _, tt := range tests {
		key, perr := ReactionKey([]byte(tt.payload))
		switch {
		case tt.code == "" && (perr != nil || key != tt.key):
			t.Errorf("ReactionKey(%s) = %q, %v; want %q", tt.payload, key, perr, tt.key)
		case tt.code != "" && (perr == nil || perr.Code != tt.code):
			t.Errorf("ReactionKey(%s) = %q, %v; want code %s", tt.payload, key, perr, tt.code)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"\x00\x1f\n\r\t", `"\u0000\u001f\n\r\t"`},
		{"é✓", `"é✓"`},
		{"\xff", `"\ufffd"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
