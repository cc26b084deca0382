// Package docs holds Herald's protocol documentation. Its tests fail when
// PROTOCOL.md or asyncapi.yaml drift apart from the protocol package: a
// frame type, a field, an error code, a close code or a limit that one side
// has and the other lacks, an example that the code would reject, or an
// encoded frame that the documented schema would reject.
package docs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/heraldrt/herald/protocol"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const (
	asyncAPIFile = "asyncapi.yaml"
	protocolMD   = "PROTOCOL.md"
	protocolDir  = "../protocol"
)

// webSocketCloseCodes are close codes that the WebSocket layer sends rather
// than Herald's protocol code, so protocol.CloseCodes does not list them.
// The documents may describe them; the reason text must then match.
var webSocketCloseCodes = map[int]string{
	1002: "protocol error",
}

// reconnectAdvice is every value allowed in x-close-codes' reconnect field.
var reconnectAdvice = []string{"no", "yes", "new-token"}

// appendHelpers are exported Append functions that encode a value inside a
// frame rather than a whole frame.
var appendHelpers = []string{"AppendString"}

// ---- loading ----

// spec is asyncapi.yaml, converted to the values encoding/json produces
// (with numbers as json.Number), and indexed by frame type.
type spec struct {
	doc map[string]any
	// messages maps a frame type to its message object.
	messages map[string]map[string]any
	// schemas maps a frame type to its compiled payload schema.
	schemas map[string]*jsonschema.Schema
}

// markdown is PROTOCOL.md split into sections.
type markdown struct {
	// h2 maps a level-2 heading (without its "N. " prefix) to its lines.
	h2 map[string][]string
	// h3 maps a level-2 heading to its level-3 headings, each to its lines.
	h3 map[string]map[string][]string
	// examples are the lines of fenced code blocks that start with an arrow:
	// client frames (→) and server frames (←), arrow removed.
	clientExamples, serverExamples []string
}

var (
	loadOnce sync.Once
	loaded   struct {
		spec *spec
		md   *markdown
		err  error
	}
)

func load(t *testing.T) (*spec, *markdown) {
	t.Helper()
	loadOnce.Do(func() {
		loaded.spec, loaded.err = loadSpec(asyncAPIFile)
		if loaded.err != nil {
			return
		}
		loaded.md, loaded.err = loadMarkdown(protocolMD)
	})
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	return loaded.spec, loaded.md
}

func loadSpec(name string) (*spec, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Go through JSON so that the values are exactly what a JSON tool sees
	// (and the schema validator gets json.Number).
	js, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("%s is not JSON-compatible (map keys must be strings): %w", name, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: top level is not a mapping", name)
	}
	s := &spec{
		doc:      doc,
		messages: map[string]map[string]any{},
		schemas:  map[string]*jsonschema.Schema{},
	}
	comps, _ := lookup(doc, "components", "messages").(map[string]any)
	if len(comps) == 0 {
		return nil, fmt.Errorf("%s: no components.messages", name)
	}
	c := jsonschema.NewCompiler()
	// AsyncAPI's default schema format is a superset of JSON Schema draft 7.
	c.DefaultDraft(jsonschema.Draft7)
	for key, m := range comps {
		msg, ok := m.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: message %s is not a mapping", name, key)
		}
		typ, _ := lookup(msg, "payload", "properties", "type", "const").(string)
		if typ == "" {
			return nil, fmt.Errorf("%s: message %s has no payload.properties.type.const", name, key)
		}
		if typ != key || msg["name"] != key {
			return nil, fmt.Errorf("%s: message %s: key, name (%v) and type const (%s) must be the frame type", name, key, msg["name"], typ)
		}
		s.messages[typ] = msg
		url := "file:///asyncapi/" + typ + ".json"
		if err := c.AddResource(url, msg["payload"]); err != nil {
			return nil, fmt.Errorf("%s: message %s: %w", name, key, err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("%s: message %s: payload schema: %w", name, key, err)
		}
		s.schemas[typ] = sch
	}
	return s, nil
}

var numberedHeading = regexp.MustCompile(`^\d+\.\s+`)

func loadMarkdown(name string) (*markdown, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	md := &markdown{h2: map[string][]string{}, h3: map[string]map[string][]string{}}
	var h2, h3 string
	inFence := false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			trimmed := strings.TrimSpace(line)
			if rest, ok := strings.CutPrefix(trimmed, "→"); ok {
				md.clientExamples = append(md.clientExamples, strings.TrimSpace(rest))
			} else if rest, ok := strings.CutPrefix(trimmed, "←"); ok {
				md.serverExamples = append(md.serverExamples, strings.TrimSpace(rest))
			}
		} else if title, ok := strings.CutPrefix(line, "## "); ok {
			h2 = numberedHeading.ReplaceAllString(strings.TrimSpace(title), "")
			h3 = ""
			if _, dup := md.h2[h2]; dup {
				return nil, fmt.Errorf("%s: duplicate section %q", name, h2)
			}
			md.h2[h2] = []string{}
			continue
		} else if title, ok := strings.CutPrefix(line, "### "); ok {
			h3 = strings.TrimSpace(title)
			if md.h3[h2] == nil {
				md.h3[h2] = map[string][]string{}
			}
			if _, dup := md.h3[h2][h3]; dup {
				return nil, fmt.Errorf("%s: duplicate section %q in %q", name, h3, h2)
			}
			md.h3[h2][h3] = []string{}
			continue
		}
		if h2 != "" {
			md.h2[h2] = append(md.h2[h2], line)
		}
		if h3 != "" {
			md.h3[h2][h3] = append(md.h3[h2][h3], line)
		}
	}
	if inFence {
		return nil, fmt.Errorf("%s: unterminated code block", name)
	}
	return md, sc.Err()
}

// ---- the checks ----

// TestFrameTypes checks that every frame type of the code has a message in
// asyncapi.yaml, in the operation of its direction, and a section in
// PROTOCOL.md, and that neither document has a type the code lacks.
func TestFrameTypes(t *testing.T) {
	s, md := load(t)
	dirs := []struct {
		name      string
		types     []string
		operation string
		action    string
		section   string
	}{
		{"client", protocol.ClientTypes, "send", "send", "Client frames"},
		{"server", protocol.ServerTypes, "receive", "receive", "Server frames"},
	}
	channelMsgs, _ := lookup(s.doc, "channels", "ws", "messages").(map[string]any)
	for _, d := range dirs {
		opTypes, err := s.operationTypes(d.operation)
		if err != nil {
			t.Fatal(err)
		}
		if got := lookup(s.doc, "operations", d.operation, "action"); got != d.action {
			t.Errorf("operations.%s.action = %v, want %s", d.operation, got, d.action)
		}
		mdTypes := headingTypes(md.h3[d.section])
		for _, typ := range d.types {
			t.Run(d.name+"/"+typ, func(t *testing.T) {
				if _, ok := s.messages[typ]; !ok {
					t.Errorf("asyncapi.yaml: no components.messages.%s", typ)
				}
				if _, ok := channelMsgs[typ]; !ok {
					t.Errorf("asyncapi.yaml: channels.ws.messages has no %s", typ)
				}
				if n := count(opTypes, typ); n != 1 {
					t.Errorf("asyncapi.yaml: operations.%s lists %s %d times, want once", d.operation, typ, n)
				}
				if !slices.Contains(mdTypes, typ) {
					t.Errorf("PROTOCOL.md: no heading \"### `%s`\" under %q", typ, d.section)
				}
			})
		}
		t.Run(d.name+"/no extra types", func(t *testing.T) {
			for _, typ := range opTypes {
				if !slices.Contains(d.types, typ) {
					t.Errorf("asyncapi.yaml: operations.%s lists %s, which is not in protocol.%sTypes", d.operation, typ, upperFirst(d.name))
				}
			}
			for _, typ := range mdTypes {
				if !slices.Contains(d.types, typ) {
					t.Errorf("PROTOCOL.md: section %q has frame %s, which is not in protocol.%sTypes", d.section, typ, upperFirst(d.name))
				}
			}
		})
	}
	t.Run("no extra messages", func(t *testing.T) {
		all := slices.Concat(protocol.ClientTypes, protocol.ServerTypes)
		for _, typ := range sortedKeys(s.messages) {
			if !slices.Contains(all, typ) {
				t.Errorf("asyncapi.yaml: message %s is not a frame type of the protocol package", typ)
			}
		}
		for _, key := range sortedKeys(channelMsgs) {
			if !slices.Contains(all, key) {
				t.Errorf("asyncapi.yaml: channels.ws.messages.%s is not a frame type of the protocol package", key)
			}
			ref, _ := lookup(channelMsgs, key, "$ref").(string)
			if want := "#/components/messages/" + key; ref != want {
				t.Errorf("asyncapi.yaml: channels.ws.messages.%s.$ref = %q, want %q", key, ref, want)
			}
		}
	})
}

// TestErrorCodes checks the error codes against protocol.Codes, both ways.
func TestErrorCodes(t *testing.T) {
	s, md := load(t)
	enum, _ := lookup(s.messages[protocol.TypeError], "payload", "properties", "code", "enum").([]any)
	var specCodes []string
	for _, v := range enum {
		str, _ := v.(string)
		specCodes = append(specCodes, str)
	}
	mdCodes := firstColumn(md.h2["Error codes"], "Code")
	for _, code := range protocol.Codes {
		t.Run(string(code), func(t *testing.T) {
			if n := count(specCodes, string(code)); n != 1 {
				t.Errorf("asyncapi.yaml: error code enum has %s %d times, want once", code, n)
			}
			if n := count(mdCodes, "`"+string(code)+"`"); n != 1 {
				t.Errorf("PROTOCOL.md: error code table has `%s` %d times, want once", code, n)
			}
		})
	}
	t.Run("no extra codes", func(t *testing.T) {
		known := map[string]bool{}
		for _, c := range protocol.Codes {
			known[string(c)] = true
		}
		for _, c := range specCodes {
			if !known[c] {
				t.Errorf("asyncapi.yaml: error code enum has %q, which is not in protocol.Codes", c)
			}
		}
		for _, c := range mdCodes {
			if !known[strings.Trim(c, "`")] {
				t.Errorf("PROTOCOL.md: error code table has %s, which is not in protocol.Codes", c)
			}
		}
	})
}

// TestCloseCodes checks the close codes and their reason texts against
// protocol.CloseCodes, both ways.
func TestCloseCodes(t *testing.T) {
	s, md := load(t)
	specMap, _ := lookup(s.doc, "channels", "ws", "x-close-codes").(map[string]any)
	if len(specMap) == 0 {
		t.Fatal("asyncapi.yaml: no channels.ws.x-close-codes")
	}
	mdReasons := map[string]string{}
	mdRows := table(md.h2["Close codes"], "Code")
	for _, row := range mdRows {
		if len(row) < 2 {
			t.Fatalf("PROTOCOL.md: close code row %q has too few cells", row)
		}
		if _, dup := mdReasons[row[0]]; dup {
			t.Errorf("PROTOCOL.md: close code %s listed twice", row[0])
		}
		mdReasons[row[0]] = row[1]
	}
	check := func(t *testing.T, code int, reason string, required bool) {
		key := strconv.Itoa(code)
		entry, ok := specMap[key].(map[string]any)
		switch {
		case !ok && required:
			t.Errorf("asyncapi.yaml: x-close-codes has no %d", code)
		case ok:
			if entry["reason"] != reason {
				t.Errorf("asyncapi.yaml: x-close-codes.%d.reason = %v, want %q", code, entry["reason"], reason)
			}
			if r, _ := entry["reconnect"].(string); !slices.Contains(reconnectAdvice, r) {
				t.Errorf("asyncapi.yaml: x-close-codes.%d.reconnect = %v, want one of %q", code, entry["reconnect"], reconnectAdvice)
			}
			if d, _ := entry["description"].(string); d == "" {
				t.Errorf("asyncapi.yaml: x-close-codes.%d has no description", code)
			}
		}
		got, ok := mdReasons[key]
		switch {
		case !ok && required:
			t.Errorf("PROTOCOL.md: close code table has no %d", code)
		case ok && got != reason:
			t.Errorf("PROTOCOL.md: close code %d reason text = %q, want %q", code, got, reason)
		}
	}
	for _, code := range sortedKeys(protocol.CloseCodes) {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			check(t, code, protocol.CloseCodes[code], true)
			if by := lookup(specMap, strconv.Itoa(code), "sentBy"); by != "herald" {
				t.Errorf("asyncapi.yaml: x-close-codes.%d.sentBy = %v, want herald", code, by)
			}
		})
	}
	for _, code := range sortedKeys(webSocketCloseCodes) {
		t.Run(strconv.Itoa(code)+" (WebSocket layer)", func(t *testing.T) {
			check(t, code, webSocketCloseCodes[code], false)
			if _, ok := specMap[strconv.Itoa(code)]; ok {
				if by := lookup(specMap, strconv.Itoa(code), "sentBy"); by != "websocket" {
					t.Errorf("asyncapi.yaml: x-close-codes.%d.sentBy = %v, want websocket", code, by)
				}
			}
		})
	}
	t.Run("no extra codes", func(t *testing.T) {
		known := func(key string) bool {
			code, err := strconv.Atoi(key)
			if err != nil {
				return false
			}
			_, inProto := protocol.CloseCodes[code]
			_, inWS := webSocketCloseCodes[code]
			return inProto || inWS
		}
		for _, key := range sortedKeys(specMap) {
			if !known(key) {
				t.Errorf("asyncapi.yaml: x-close-codes has %s, which is not in protocol.CloseCodes", key)
			}
		}
		for _, key := range sortedKeys(mdReasons) {
			if !known(key) {
				t.Errorf("PROTOCOL.md: close code table has %s, which is not in protocol.CloseCodes", key)
			}
		}
	})
}

// TestLimits checks the documented field limits against the constants.
func TestLimits(t *testing.T) {
	s, _ := load(t)
	limits, _ := lookup(s.doc, "channels", "ws", "x-limits").(map[string]any)
	tests := []struct {
		name   string
		limit  string // key in x-limits
		want   int
		fields []string // "type.field" whose maxLength must be want
	}{
		{"batch", "maxBatch", protocol.MaxBatch, nil},
		{"id", "maxIdBytes", protocol.MaxIDLen, []string{"auth.id", "subscribe.id", "unsubscribe.id", "publish.id", "ping.id", "history.id"}},
		{"event", "maxEventBytes", protocol.MaxEventLen, []string{"publish.event"}},
		{"channel", "maxChannelBytes", protocol.MaxChannelLen, []string{"subscribe.channel", "unsubscribe.channel", "publish.channel", "history.channel"}},
		{"history page", "defaultHistoryLimit", protocol.DefaultHistoryLimit, nil},
		{"reaction key", "maxReactionBytes", protocol.MaxReactionLen, nil},
		{"reaction users", "reactionUsers", protocol.ReactionUsers, nil},
		{"token", "maxTokenBytes", protocol.MaxTokenLen, []string{"auth.token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := intValue(limits[tt.limit]); got != tt.want {
				t.Errorf("asyncapi.yaml: x-limits.%s = %v, want %d", tt.limit, limits[tt.limit], tt.want)
			}
			for _, f := range tt.fields {
				typ, field, _ := strings.Cut(f, ".")
				got := lookup(s.messages[typ], "payload", "properties", field, "maxLength")
				if intValue(got) != tt.want {
					t.Errorf("asyncapi.yaml: %s.%s maxLength = %v, want %d", typ, field, got, tt.want)
				}
			}
		})
	}
}

// TestOps checks the documented ops of publish and message frames against
// protocol.Ops.
func TestOps(t *testing.T) {
	s, md := load(t)
	for _, typ := range []string{protocol.TypePublish, protocol.TypeMessage} {
		var enum []string
		for _, v := range lookup(s.messages[typ], "payload", "properties", "op", "enum").([]any) {
			enum = append(enum, v.(string))
		}
		want := protocol.Ops
		if typ == protocol.TypeMessage {
			want = append(slices.Clone(want), protocol.OpState)
		}
		if !slices.Equal(enum, want) {
			t.Errorf("asyncapi.yaml: %s.op enum %v, want %v", typ, enum, want)
		}
	}
	var table []string
	for _, op := range firstColumn(md.h2["Edits, deletes and reactions"], "`op`") {
		table = append(table, strings.Trim(op, "`"))
	}
	if !slices.Equal(table, protocol.Ops) {
		t.Errorf("PROTOCOL.md: the op table of §18 lists %v, want protocol.Ops %v", table, protocol.Ops)
	}
}

// TestClientExamples checks that every client example, in asyncapi.yaml
// and in PROTOCOL.md, is accepted by protocol.Decode and ValidateClient
// and by its own schema.
func TestClientExamples(t *testing.T) {
	s, md := load(t)
	for _, typ := range protocol.ClientTypes {
		for i, ex := range examples(s.messages[typ]) {
			t.Run(fmt.Sprintf("asyncapi/%s/%d", typ, i), func(t *testing.T) {
				raw, err := json.Marshal(ex)
				if err != nil {
					t.Fatal(err)
				}
				checkClientFrames(t, s, raw, typ)
			})
		}
	}
	if len(md.clientExamples) == 0 {
		t.Fatal("PROTOCOL.md: no client examples (→ lines in code blocks)")
	}
	for i, line := range md.clientExamples {
		if !strings.HasPrefix(line, "{") && !strings.HasPrefix(line, "[") {
			continue
		}
		t.Run(fmt.Sprintf("PROTOCOL.md/%d", i), func(t *testing.T) {
			checkClientFrames(t, s, []byte(line), "")
		})
	}
}

// checkClientFrames decodes one text message of client frames and checks
// each frame. wantType, if set, is the type the single frame must have.
func checkClientFrames(t *testing.T, s *spec, raw []byte, wantType string) {
	t.Helper()
	frames, err := protocol.Decode(nil, raw)
	if err != nil {
		t.Fatalf("protocol.Decode(%s): %v", raw, err)
	}
	if wantType != "" && (len(frames) != 1 || frames[0].Type != wantType) {
		t.Fatalf("protocol.Decode(%s) = %+v, want one %s frame", raw, frames, wantType)
	}
	values, err := jsonValues(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range frames {
		f := &frames[i]
		if !slices.Contains(protocol.ClientTypes, f.Type) {
			t.Errorf("%s: type %q is not a client type", raw, f.Type)
			continue
		}
		if perr := f.ValidateClient(); perr != nil {
			t.Errorf("ValidateClient(%s): %v", raw, perr)
		}
		if err := s.schemas[f.Type].Validate(values[i]); err != nil {
			t.Errorf("%s does not validate against asyncapi.yaml's %s schema: %v", raw, f.Type, err)
		}
	}
}

// serverSample is a frame produced by one of the protocol's Append
// functions.
type serverSample struct {
	name string
	fn   string // the Append function that produced data
	typ  string
	data []byte
}

func serverSamples() []serverSample {
	full := &protocol.Message{
		Channel: "chat.123", Seq: 4531, ID: "6f1c2a9e-0b7d-4c1e-9a53-2f0d8e7b4a10",
		Event: "message.new", Payload: []byte(`{"text":"hi \"there\"","n":[1,2.5,null]}`),
		Timestamp: 1711234567890, From: "alice",
	}
	samples := []serverSample{
		{"auth_ok", "AppendAuthOK", protocol.TypeAuthOK, protocol.AppendAuthOK(nil, "a1", "c-7Hq2", "alice", 1711238167000)},
		{"auth_ok without id", "AppendAuthOK", protocol.TypeAuthOK, protocol.AppendAuthOK(nil, "", "c-7Hq2", "user\u2028\"odd\"", 0)},
		{"subscribed recovered", "AppendSubscribed", protocol.TypeSubscribed, protocol.AppendSubscribed(nil, "s1", "chat.123", 4530, true)},
		{"subscribed live, nothing published yet", "AppendSubscribed", protocol.TypeSubscribed, protocol.AppendSubscribed(nil, "", "chat.new", 0, false)},
		{"unsubscribed", "AppendUnsubscribed", protocol.TypeUnsubscribed, protocol.AppendUnsubscribed(nil, "u1", "chat.123")},
		{"unsubscribed without id", "AppendUnsubscribed", protocol.TypeUnsubscribed, protocol.AppendUnsubscribed(nil, "", "chat.123")},
		{"ack", "AppendAck", protocol.TypeAck, protocol.AppendAck(nil, "6f1c2a9e", "chat.123", 4531, 1711234567890)},
		{"ack odd id", "AppendAck", protocol.TypeAck, protocol.AppendAck(nil, "a b!#~", "x", 1, 1)},
		{"message", "AppendMessage", protocol.TypeMessage, protocol.AppendMessage(nil, full)},
		{"message minimal", "AppendMessage", protocol.TypeMessage, protocol.AppendMessage(nil, &protocol.Message{Channel: "c", Seq: 1, Timestamp: 1})},
		{"message scalar payload", "AppendMessage", protocol.TypeMessage, protocol.AppendMessage(nil, &protocol.Message{Channel: "c", Seq: 2, ID: "x", Payload: []byte(`"text"`), Timestamp: 2, From: "bob"})},
		{"pong", "AppendPong", protocol.TypePong, protocol.AppendPong(nil, "p1", 1711234567990)},
		{"pong without id", "AppendPong", protocol.TypePong, protocol.AppendPong(nil, "", 1711234567990)},
		{"snapshot_required", "AppendSnapshotRequired", protocol.TypeSnapshotRequired, protocol.AppendSnapshotRequired(nil, "s1", "chat.123", 4530, 3000)},
		{"snapshot_required without id", "AppendSnapshotRequired", protocol.TypeSnapshotRequired, protocol.AppendSnapshotRequired(nil, "", "chat.123", 0, 1)},
		{"token_expiring", "AppendTokenExpiring", protocol.TypeTokenExpiring, protocol.AppendTokenExpiring(nil, 1711238167000)},
		{"presence_state", "AppendPresenceState", protocol.TypePresenceState, protocol.AppendPresenceState(nil, "q1", "chat.123", 2, []protocol.PresenceMember{{UserID: "alice", Connections: 2, Info: []byte(`{"name":"Alice"}`)}, {UserID: "bob", Connections: 1}})},
		{"presence_state count only", "AppendPresenceState", protocol.TypePresenceState, protocol.AppendPresenceState(nil, "", "chat.123", 5000, nil)},
		{"presence_state empty", "AppendPresenceState", protocol.TypePresenceState, protocol.AppendPresenceState(nil, "", "chat.123", 0, []protocol.PresenceMember{})},
		{"presence_diff", "AppendPresenceDiff", protocol.TypePresenceDiff, protocol.AppendPresenceDiff(nil, "chat.123", 2, []protocol.PresenceMember{{UserID: "carol", Connections: 1}}, []string{"bob"})},
		{"presence_diff count only", "AppendPresenceDiff", protocol.TypePresenceDiff, protocol.AppendPresenceDiff(nil, "chat.123", 5001, nil, nil)},
		{"subscribed with unread", "AppendSubscribedUnread", protocol.TypeSubscribed, protocol.AppendSubscribedUnread(nil, "s1", "chat.123", 4530, false, &protocol.Unread{ReadSeq: 4521, Unread: 9})},
		{"receipts", "AppendReceipts", protocol.TypeReceipts, protocol.AppendReceipts(nil, "chat.123", map[string]uint64{"alice": 4530}, map[string]uint64{"bob": 4528})},
		{"receipts empty", "AppendReceipts", protocol.TypeReceipts, protocol.AppendReceipts(nil, "chat.123", nil, nil)},
		{"user_status online", "AppendUserStatus", protocol.TypeUserStatus, protocol.AppendUserStatus(nil, "status.bob", &protocol.UserStatus{UserID: "bob", Online: true, Devices: 2})},
		{"user_status offline", "AppendUserStatus", protocol.TypeUserStatus, protocol.AppendUserStatus(nil, "status.bob", &protocol.UserStatus{UserID: "bob", LastSeen: 1711234567890})},
		{"state", "AppendState", protocol.TypeState, protocol.AppendState(nil, "doc.42", 21, map[string]protocol.StateEntry{"title": {Value: []byte(`"Q3 plan"`), Seq: 17}, "gone": {Value: []byte("null"), Seq: 18}})},
		{"state empty", "AppendState", protocol.TypeState, protocol.AppendState(nil, "doc.42", 0, nil)},
		{"snapshot_required with state", "AppendSnapshotRequiredState", protocol.TypeSnapshotRequired, protocol.AppendSnapshotRequiredState(nil, "s1", "doc.42", 4530, 3000, map[string]protocol.StateEntry{"title": {Value: []byte(`{"a":1}`), Seq: 17}})},
		{"typing_notice", "AppendTypingNotice", protocol.TypeTypingNotice, protocol.AppendTypingNotice(nil, "chat.123", "alice", 5000)},
		{"error without ref", "AppendError", protocol.TypeError, protocol.AppendError(nil, &protocol.Error{Code: protocol.CodeBadRequest, Message: "malformed JSON"}, "", "")},
		{"error empty message", "AppendError", protocol.TypeError, protocol.AppendError(nil, &protocol.Error{Code: protocol.CodeInternal}, "", "")},
		{"error odd text", "AppendError", protocol.TypeError, protocol.AppendError(nil, protocol.Errorf(protocol.CodeBadRequest, "unknown frame type %q\n\t\x00\xff", "x"), "r\"1", "bad channel")},
	}
	edit := &protocol.Message{Channel: "chat.123", Seq: 4532, ID: "e-1", Op: protocol.OpEdit, Ref: 4531,
		Payload: []byte(`{"text":"hi!"}`), Timestamp: 1711234567891, From: "alice"}
	changed := *full
	changed.Payload, changed.EditedAt = []byte(`{"text":"hi!"}`), 1711234567891
	changed.Reactions = []protocol.Reaction{{Key: "👍", Count: 25, Users: []string{"bob", "carol"}}, {Key: "\"odd\u2028key", Count: 1, Users: []string{"dave"}}}
	deleted := *full
	deleted.Deleted = true
	samples = append(samples,
		serverSample{"message op entry", "AppendMessage", protocol.TypeMessage, protocol.AppendMessage(nil, edit)},
		serverSample{"message delete without payload", "AppendMessage", protocol.TypeMessage,
			protocol.AppendMessage(nil, &protocol.Message{Channel: "c", Seq: 3, ID: "d", Op: protocol.OpDelete, Ref: 1, Timestamp: 3, From: "a"})},
		serverSample{"message edited with reactions", "AppendMessage", protocol.TypeMessage, protocol.AppendMessage(nil, &changed)},
		serverSample{"message deleted", "AppendMessage", protocol.TypeMessage, protocol.AppendMessage(nil, &deleted)},
	)
	page := &protocol.HistoryPage{ID: "h1", Channel: "chat.123", Head: 4531, Oldest: 3000,
		Messages: []protocol.Message{*full, {Channel: "ignored", Seq: 4532, Timestamp: 1711234567891}, *edit, changed, deleted}}
	samples = append(samples,
		serverSample{"history_page", "AppendHistoryPage", protocol.TypeHistoryPage, protocol.AppendHistoryPage(nil, page)},
		serverSample{"history_page empty", "AppendHistoryPage", protocol.TypeHistoryPage,
			protocol.AppendHistoryPage(nil, &protocol.HistoryPage{ID: "h2", Channel: "chat.new", Head: 0, Oldest: 1})},
	)
	for _, code := range protocol.Codes {
		samples = append(samples, serverSample{
			"error " + string(code), "AppendError", protocol.TypeError,
			protocol.AppendError(nil, &protocol.Error{Code: code, Message: "something"}, "r1", "chat.123"),
		})
	}
	return samples
}

// TestServerFrames checks that the frames every Append function encodes
// validate against asyncapi.yaml's schema for their type, and that every
// field they write is documented and every required field is written.
func TestServerFrames(t *testing.T) {
	s, _ := load(t)
	samples := serverSamples()
	for _, sm := range samples {
		t.Run(sm.name, func(t *testing.T) {
			if !json.Valid(sm.data) {
				t.Fatalf("%s wrote invalid JSON: %s", sm.fn, sm.data)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(sm.data))
			if err != nil {
				t.Fatal(err)
			}
			obj, ok := v.(map[string]any)
			if !ok || obj["type"] != sm.typ {
				t.Fatalf("%s wrote %s, want a %s frame", sm.fn, sm.data, sm.typ)
			}
			sch := s.schemas[sm.typ]
			if sch == nil {
				t.Fatalf("asyncapi.yaml: no schema for %s", sm.typ)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("%s does not validate against asyncapi.yaml's %s schema: %v", sm.data, sm.typ, err)
			}
			props, _ := lookup(s.messages[sm.typ], "payload", "properties").(map[string]any)
			for _, field := range sortedKeys(obj) {
				if _, ok := props[field]; !ok {
					t.Errorf("%s writes field %q, which asyncapi.yaml's %s schema does not list", sm.fn, field, sm.typ)
				}
			}
			for _, field := range requiredFields(s.messages[sm.typ]) {
				if _, ok := obj[field]; !ok {
					t.Errorf("%s left out field %q, which asyncapi.yaml's %s schema requires: %s", sm.fn, field, sm.typ, sm.data)
				}
			}
		})
	}
	t.Run("every Append function has a sample", func(t *testing.T) {
		fns, err := appendFuncs(protocolDir)
		if err != nil {
			t.Fatal(err)
		}
		if len(fns) == 0 {
			t.Fatal("no Append functions found in the protocol package")
		}
		for _, fn := range fns {
			if !slices.ContainsFunc(samples, func(sm serverSample) bool { return sm.fn == fn }) {
				t.Errorf("protocol.%s has no sample in serverSamples", fn)
			}
		}
		for _, sm := range samples {
			if !slices.Contains(fns, sm.fn) {
				t.Errorf("sample %q names %s, which is not an exported Append function of the protocol package", sm.name, sm.fn)
			}
		}
	})
	t.Run("every server type has a sample", func(t *testing.T) {
		for _, typ := range protocol.ServerTypes {
			if !slices.ContainsFunc(samples, func(sm serverSample) bool { return sm.typ == typ }) {
				t.Errorf("server type %s has no sample in serverSamples", typ)
			}
		}
	})
}

// TestServerExamples checks that every server example, in asyncapi.yaml
// and in PROTOCOL.md, validates against its type's schema.
func TestServerExamples(t *testing.T) {
	s, md := load(t)
	for _, typ := range protocol.ServerTypes {
		exs := examples(s.messages[typ])
		if len(exs) == 0 {
			t.Errorf("asyncapi.yaml: message %s has no example", typ)
		}
		for i, ex := range exs {
			t.Run(fmt.Sprintf("asyncapi/%s/%d", typ, i), func(t *testing.T) {
				obj, _ := ex.(map[string]any)
				if obj["type"] != typ {
					t.Errorf("example type = %v, want %s", obj["type"], typ)
				}
				if err := s.schemas[typ].Validate(ex); err != nil {
					t.Errorf("example %v does not validate against its schema: %v", ex, err)
				}
			})
		}
	}
	if len(md.serverExamples) == 0 {
		t.Fatal("PROTOCOL.md: no server examples (← lines in code blocks)")
	}
	for i, line := range md.serverExamples {
		if !strings.HasPrefix(line, "{") && !strings.HasPrefix(line, "[") {
			continue
		}
		t.Run(fmt.Sprintf("PROTOCOL.md/%d", i), func(t *testing.T) {
			values, err := jsonValues([]byte(line))
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			for _, v := range values {
				obj, _ := v.(map[string]any)
				typ, _ := obj["type"].(string)
				if !slices.Contains(protocol.ServerTypes, typ) {
					t.Errorf("%s: type %q is not a server type", line, typ)
					continue
				}
				if err := s.schemas[typ].Validate(v); err != nil {
					t.Errorf("%s does not validate against asyncapi.yaml's %s schema: %v", line, typ, err)
				}
			}
		})
	}
	t.Run("client examples", func(t *testing.T) {
		for _, typ := range protocol.ClientTypes {
			if len(examples(s.messages[typ])) == 0 {
				t.Errorf("asyncapi.yaml: message %s has no example", typ)
			}
		}
	})
}

// TestFieldTables checks that the field table of each frame in PROTOCOL.md
// lists exactly the properties of the frame's schema in asyncapi.yaml,
// with the same JSON types and the same required fields.
func TestFieldTables(t *testing.T) {
	s, md := load(t)
	sections := []struct {
		name  string
		types []string
	}{
		{"Client frames", protocol.ClientTypes},
		{"Server frames", protocol.ServerTypes},
	}
	for _, sec := range sections {
		for _, typ := range sec.types {
			t.Run(typ, func(t *testing.T) {
				lines, ok := md.h3[sec.name]["`"+typ+"`"]
				if !ok {
					t.Fatalf("PROTOCOL.md: no section \"### `%s`\" under %q", typ, sec.name)
				}
				rows := table(lines, "Field")
				if len(rows) == 0 {
					t.Fatalf("PROTOCOL.md: section %s has no field table", typ)
				}
				props, _ := lookup(s.messages[typ], "payload", "properties").(map[string]any)
				required := requiredFields(s.messages[typ])
				seen := map[string]bool{}
				for _, row := range rows {
					if len(row) < 3 {
						t.Errorf("PROTOCOL.md: %s: row %q has too few cells", typ, row)
						continue
					}
					field := strings.Trim(row[0], "`")
					if seen[field] {
						t.Errorf("PROTOCOL.md: %s: field %s listed twice", typ, field)
					}
					seen[field] = true
					prop, ok := props[field].(map[string]any)
					if !ok {
						t.Errorf("PROTOCOL.md: %s lists field %s, which asyncapi.yaml's schema lacks", typ, field)
						continue
					}
					wantType, _ := prop["type"].(string)
					if wantType == "" {
						wantType = "any"
					}
					if row[1] != wantType {
						t.Errorf("%s.%s: PROTOCOL.md says type %q, asyncapi.yaml %q", typ, field, row[1], wantType)
					}
					wantReq := "no"
					if slices.Contains(required, field) {
						wantReq = "yes"
					}
					if row[2] != wantReq {
						t.Errorf("%s.%s: PROTOCOL.md says required %q, asyncapi.yaml %q", typ, field, row[2], wantReq)
					}
				}
				for _, field := range sortedKeys(props) {
					if !seen[field] {
						t.Errorf("PROTOCOL.md: %s's field table lacks %s, which asyncapi.yaml's schema has", typ, field)
					}
				}
				for _, field := range required {
					if _, ok := props[field]; !ok {
						t.Errorf("asyncapi.yaml: %s requires %s, which is not among its properties", typ, field)
					}
				}
				if ap := lookup(s.messages[typ], "payload", "additionalProperties"); ap != true {
					t.Errorf("asyncapi.yaml: %s payload additionalProperties = %v, want true (forward compatibility)", typ, ap)
				}
				if pt := lookup(s.messages[typ], "payload", "type"); pt != "object" {
					t.Errorf("asyncapi.yaml: %s payload type = %v, want object", typ, pt)
				}
			})
		}
	}
}

// TestSchemasAgreeWithValidateClient feeds the same client frames to
// protocol.Decode plus ValidateClient and to the asyncapi.yaml schemas,
// and checks that both accept or both reject each one, so that the
// documented character sets and lengths are the ones the server enforces.
func TestSchemasAgreeWithValidateClient(t *testing.T) {
	s, _ := load(t)
	type frame = map[string]any
	type tc struct {
		name string
		f    frame
	}
	var cases []tc
	add := func(name string, f frame) { cases = append(cases, tc{name, f}) }
	for c := 0; c < 0x80; c++ {
		ch := string(rune(c))
		add(fmt.Sprintf("channel a%qb", ch), frame{"type": "subscribe", "channel": "a" + ch + "b"})
		add(fmt.Sprintf("channel %q", ch), frame{"type": "unsubscribe", "channel": ch})
		add(fmt.Sprintf("id a%qb", ch), frame{"type": "ping", "id": "a" + ch + "b"})
		add(fmt.Sprintf("event a%qb", ch), frame{"type": "publish", "id": "1", "channel": "c", "event": "a" + ch + "b", "payload": 1})
	}
	for _, name := range []string{"", ".a", "a.", "a..b", "a.*", "a.>", "*", ">", "a.b.c", "chat.é", "a{b}", strings.Repeat("c", protocol.MaxChannelLen), strings.Repeat("c", protocol.MaxChannelLen+1), strings.Repeat("c.", 127) + "c"} {
		add(fmt.Sprintf("channel %.20q len %d", name, len(name)), frame{"type": "subscribe", "channel": name})
	}
	for _, n := range []int{protocol.MaxIDLen, protocol.MaxIDLen + 1} {
		add(fmt.Sprintf("id len %d", n), frame{"type": "publish", "id": strings.Repeat("i", n), "channel": "c", "payload": nil})
		add(fmt.Sprintf("event len %d", n), frame{"type": "publish", "id": "1", "channel": "c", "event": strings.Repeat("e", n), "payload": nil})
	}
	for _, n := range []int{1, protocol.MaxTokenLen, protocol.MaxTokenLen + 1} {
		add(fmt.Sprintf("token len %d", n), frame{"type": "auth", "token": strings.Repeat("t", n)})
	}
	add("id é", frame{"type": "ping", "id": "é"})
	add("event é", frame{"type": "publish", "id": "1", "channel": "c", "event": "é", "payload": 1})
	add("auth empty token", frame{"type": "auth", "token": ""})
	add("auth no token", frame{"type": "auth"})
	add("subscribe no channel", frame{"type": "subscribe"})
	add("subscribe lastSeq 0", frame{"type": "subscribe", "channel": "c", "lastSeq": 0})
	add("subscribe lastSeq -1", frame{"type": "subscribe", "channel": "c", "lastSeq": -1})
	add("subscribe lastSeq 1.5", frame{"type": "subscribe", "channel": "c", "lastSeq": 1.5})
	add("subscribe lastSeq string", frame{"type": "subscribe", "channel": "c", "lastSeq": "1"})
	add("subscribe lastSeq max", frame{"type": "subscribe", "channel": "c", "lastSeq": uint64(1<<64 - 1)})
	add("subscribe channel number", frame{"type": "subscribe", "channel": 1})
	add("publish null payload", frame{"type": "publish", "id": "1", "channel": "c", "payload": nil})
	add("publish no payload", frame{"type": "publish", "id": "1", "channel": "c"})
	add("publish no id", frame{"type": "publish", "channel": "c", "payload": 1})
	add("publish no channel", frame{"type": "publish", "id": "1", "payload": 1})
	add("publish empty event", frame{"type": "publish", "id": "1", "channel": "c", "event": "", "payload": 1})
	add("ping unknown field", frame{"type": "ping", "future": []any{1}})
	pubOp := func(op any, ref any, payload ...any) frame {
		f := frame{"type": "publish", "id": "1", "channel": "c"}
		if op != nil {
			f["op"] = op
		}
		if ref != nil {
			f["target"] = ref
		}
		if len(payload) > 0 {
			f["payload"] = payload[0]
		}
		return f
	}
	// An empty op, like an empty id or event, counts as absent on the
	// server; the schema, like the id's, asks for a real one.
	for _, op := range []string{"edit", "delete", "react", "unreact", "pin"} {
		add("op "+op+" with ref and a key", pubOp(op, 3, "k"))
		add("op "+op+" with ref and an object", pubOp(op, 3, map[string]any{"t": 1}))
		add("op "+op+" with ref and no payload", pubOp(op, 3))
		add("op "+op+" without ref", pubOp(op, nil, "k"))
		add("op "+op+" with ref 0", pubOp(op, 0, "k"))
		add("op "+op+" with ref -1", pubOp(op, -1, "k"))
		add("op "+op+" with a string ref", pubOp(op, "3", "k"))
	}
	add("ref without op", pubOp(nil, 3, 1))
	add("string ref without op", pubOp(nil, "3", 1))
	add("react with an empty key", pubOp("react", 3, ""))
	add("react with null", pubOp("react", 3, nil))
	add("react with a number", pubOp("react", 3, 5))
	add("react with a key of 64 bytes", pubOp("react", 3, strings.Repeat("k", 64)))
	add("react with a key of 65 bytes", pubOp("react", 3, strings.Repeat("k", 65)))
	add("unreact with a key of 65 bytes", pubOp("unreact", 3, strings.Repeat("k", 65)))
	add("op of another type", pubOp(1, 3, "k"))
	add("ref max", pubOp("delete", uint64(1<<64-1)))
	add("history newest", frame{"type": "history", "id": "h", "channel": "c"})
	add("history no id", frame{"type": "history", "channel": "c"})
	add("history empty id", frame{"type": "history", "id": "", "channel": "c"})
	add("history no channel", frame{"type": "history", "id": "h"})
	add("history after 0", frame{"type": "history", "id": "h", "channel": "c", "after": 0})
	add("history after -1", frame{"type": "history", "id": "h", "channel": "c", "after": -1})
	add("history after max", frame{"type": "history", "id": "h", "channel": "c", "after": uint64(1<<64 - 1)})
	add("history before 1", frame{"type": "history", "id": "h", "channel": "c", "before": 1})
	add("history before 0", frame{"type": "history", "id": "h", "channel": "c", "before": 0})
	add("history after and before", frame{"type": "history", "id": "h", "channel": "c", "after": 1, "before": 9})
	add("history limit 1", frame{"type": "history", "id": "h", "channel": "c", "limit": 1})
	add("history limit 0", frame{"type": "history", "id": "h", "channel": "c", "limit": 0})
	add("history limit -3", frame{"type": "history", "id": "h", "channel": "c", "limit": -3})
	add("history limit string", frame{"type": "history", "id": "h", "channel": "c", "limit": "5"})
	add("history limit large", frame{"type": "history", "id": "h", "channel": "c", "limit": 1 << 40})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			serverOK := false
			frames, derr := protocol.Decode(nil, raw)
			var verr error
			if derr == nil {
				if perr := frames[0].ValidateClient(); perr != nil {
					verr = perr
				} else {
					serverOK = true
				}
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			typ := tc.f["type"].(string)
			serr := s.schemas[typ].Validate(v)
			if schemaOK := serr == nil; schemaOK != serverOK {
				t.Errorf("%s: server accepts = %v (decode: %v, validate: %v), asyncapi.yaml schema accepts = %v (%v)",
					raw, serverOK, derr, verr, schemaOK, serr)
			}
		})
	}
}

// ---- helpers ----

// operationTypes returns the frame types of the messages an operation
// lists, following $refs.
func (s *spec) operationTypes(op string) ([]string, error) {
	msgs, _ := lookup(s.doc, "operations", op, "messages").([]any)
	if len(msgs) == 0 {
		return nil, fmt.Errorf("asyncapi.yaml: operations.%s lists no messages", op)
	}
	if ref, _ := lookup(s.doc, "operations", op, "channel", "$ref").(string); ref != "#/channels/ws" {
		return nil, fmt.Errorf("asyncapi.yaml: operations.%s.channel.$ref = %q, want #/channels/ws", op, ref)
	}
	var types []string
	for _, m := range msgs {
		ref, _ := lookup(m, "$ref").(string)
		if !strings.HasPrefix(ref, "#/channels/ws/messages/") {
			return nil, fmt.Errorf("asyncapi.yaml: operations.%s: message $ref %q does not point into channels.ws.messages", op, ref)
		}
		v, err := s.resolve(ref)
		if err != nil {
			return nil, fmt.Errorf("asyncapi.yaml: operations.%s: %w", op, err)
		}
		typ, _ := lookup(v, "payload", "properties", "type", "const").(string)
		if typ == "" {
			return nil, fmt.Errorf("asyncapi.yaml: operations.%s: %s has no payload type", op, ref)
		}
		types = append(types, typ)
	}
	return types, nil
}

// resolve follows a local $ref (and the $refs it lands on).
func (s *spec) resolve(ref string) (any, error) {
	for range 10 {
		ptr, ok := strings.CutPrefix(ref, "#/")
		if !ok {
			return nil, fmt.Errorf("$ref %q is not local", ref)
		}
		var path []string
		for _, p := range strings.Split(ptr, "/") {
			path = append(path, strings.NewReplacer("~1", "/", "~0", "~").Replace(p))
		}
		v := lookup(s.doc, path...)
		if v == nil {
			return nil, fmt.Errorf("$ref %q resolves to nothing", ref)
		}
		next, _ := lookup(v, "$ref").(string)
		if next == "" {
			return v, nil
		}
		ref = next
	}
	return nil, fmt.Errorf("$ref %q: too many indirections", ref)
}

// lookup walks nested mappings; it returns nil where the path ends.
func lookup(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func examples(msg map[string]any) []any {
	exs, _ := msg["examples"].([]any)
	var out []any
	for _, ex := range exs {
		out = append(out, lookup(ex, "payload"))
	}
	return out
}

func requiredFields(msg map[string]any) []string {
	req, _ := lookup(msg, "payload", "required").([]any)
	var out []string
	for _, r := range req {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// jsonValues parses one text message: an object, or an array of objects.
func jsonValues(raw []byte) ([]any, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if arr, ok := v.([]any); ok {
		return arr, nil
	}
	return []any{v}, nil
}

// headingTypes returns the frame types of "### `type`" headings.
func headingTypes(sections map[string][]string) []string {
	var out []string
	for _, h := range sortedKeys(sections) {
		if len(h) > 2 && strings.HasPrefix(h, "`") && strings.HasSuffix(h, "`") {
			out = append(out, strings.Trim(h, "`"))
		}
	}
	return out
}

// table returns the body rows of the first Markdown table in lines whose
// first header cell is header.
func table(lines []string, header string) [][]string {
	for i := 0; i < len(lines); i++ {
		row := cells(lines[i])
		if len(row) == 0 || row[0] != header {
			continue
		}
		var rows [][]string
		for j := i + 2; j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "|"); j++ {
			rows = append(rows, cells(lines[j]))
		}
		return rows
	}
	return nil
}

func firstColumn(lines []string, header string) []string {
	var out []string
	for _, row := range table(lines, header) {
		if len(row) > 0 {
			out = append(out, row[0])
		}
	}
	return out
}

// cells splits a Markdown table row; it returns nil for other lines.
func cells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	parts := strings.Split(line[1:len(line)-1], "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// appendFuncs lists the exported Append functions of the package in dir
// that encode a whole frame.
func appendFuncs(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() || !strings.HasPrefix(fd.Name.Name, "Append") {
				continue
			}
			if slices.Contains(appendHelpers, fd.Name.Name) {
				continue
			}
			out = append(out, fd.Name.Name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no exported Append functions in " + dir)
	}
	sort.Strings(out)
	return out, nil
}

func intValue(v any) int {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return -1
		}
		return int(i)
	case float64:
		return int(n)
	case int:
		return n
	}
	return -1
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

func sortedKeys[K interface{ ~string | ~int }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
