package natsbroker

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/heraldrt/herald/protocol"
)

// channelBytes are the bytes protocol.ValidChannel takes in a segment.
func channelBytes() []byte {
	var out []byte
	for c := 0; c < 256; c++ {
		if protocol.ValidChannel("x" + string(rune(c))) {
			out = append(out, byte(c))
		}
	}
	return out
}

// TestChannelSubjects checks that every valid channel name makes a
// valid, literal subject, and that channels map to subjects one to one.
func TestChannelSubjects(t *testing.T) {
	n := newNames("herald")
	bytes := channelBytes()
	if len(bytes) < 80 {
		t.Fatalf("only %d channel bytes", len(bytes))
	}
	var channels []string
	for _, c := range bytes {
		s := string(c)
		channels = append(channels, s, "ns."+s, s+s+".x", "a"+s+"b")
	}
	channels = append(channels, strings.Repeat("a.", protocol.MaxChannelLen/2)+"a")
	for _, ch := range channels {
		if !protocol.ValidChannel(ch) {
			continue
		}
		subj := n.subject(ch)
		if !server.IsValidPublishSubject(subj) {
			t.Errorf("channel %q: subject %q is not a valid publish subject", ch, subj)
		}
		if back, ok := n.channel(subj); !ok || back != ch {
			t.Errorf("channel %q: subject %q maps back to %q, %v", ch, subj, back, ok)
		}
		ns := protocol.Namespace(ch)
		matched := false
		for _, f := range n.streamSubjects(ns) {
			if subjectMatches(f, subj) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("channel %q: subject %q is not in its namespace's stream %q", ch, subj, n.streamSubjects(ns))
		}
	}
}

// TestEphemeralSubjects checks that every valid channel name makes a
// valid ephemeral subject, which its namespace's subscription takes and
// maps back to the channel, which no namespace's stream takes in (so an
// ephemeral message is never stored), and that no ephemeral subscription
// takes a channel's stored subject.
func TestEphemeralSubjects(t *testing.T) {
	n := newNames("herald")
	var channels []string
	for _, c := range channelBytes() {
		s := string(c)
		for _, ch := range []string{s, "ns." + s, s + s + ".x", "a" + s + "b", "eph." + s, s + ".eph"} {
			if protocol.ValidChannel(ch) {
				channels = append(channels, ch)
			}
		}
	}
	channels = append(channels, "eph", "{eph}", strings.Repeat("a.", protocol.MaxChannelLen/2)+"a")
	namespaces := map[string]bool{"eph": true, "herald": true}
	for _, ch := range channels {
		if protocol.ValidChannel(ch) {
			namespaces[protocol.Namespace(ch)] = true
		}
	}
	if namespaces["{eph}"] {
		t.Fatal(`"{eph}" is a valid namespace: the ephemeral subjects could land in its stream`)
	}
	for _, ch := range channels {
		if !protocol.ValidChannel(ch) {
			continue
		}
		ns := protocol.Namespace(ch)
		subj := n.ephemeralSubject(ch)
		if !server.IsValidPublishSubject(subj) {
			t.Errorf("channel %q: ephemeral subject %q is not a valid publish subject", ch, subj)
		}
		if !server.IsValidSubject(n.ephemeralFilter(ns)) || !subjectMatches(n.ephemeralFilter(ns), subj) {
			t.Errorf("channel %q: ephemeral subject %q is not in its namespace's filter %q", ch, subj, n.ephemeralFilter(ns))
		}
		if back, ok := n.ephemeralChannel(ns, subj); !ok || back != ch {
			t.Errorf("channel %q: ephemeral subject %q maps back to %q, %v", ch, subj, back, ok)
		}
		for other := range namespaces {
			for _, f := range n.streamSubjects(other) {
				if subjectMatches(f, subj) {
					t.Errorf("channel %q: ephemeral subject %q is in the stream of namespace %q (%q)", ch, subj, other, f)
				}
			}
			if subjectMatches(n.ephemeralFilter(other), n.subject(ch)) {
				t.Errorf("channel %q: its stored subject %q is in namespace %q's ephemeral filter", ch, n.subject(ch), other)
			}
		}
	}
	for _, bad := range []struct{ ns, subject string }{
		{"chat", "herald.{eph}.chat."},
		{"chat", "herald.{eph}.chat.other.1"},
		{"chat", "herald.{eph}.chat.chat..1"},
		{"chat", "herald.chat.1"},
		{"chat", "other.{eph}.chat.chat.1"},
	} {
		if ch, ok := n.ephemeralChannel(bad.ns, bad.subject); ok {
			t.Errorf("ephemeralChannel(%q, %q) = %q, want none", bad.ns, bad.subject, ch)
		}
	}
}

// subjectMatches reports whether subject matches filter, whose only
// wildcard is a final '>'.
func subjectMatches(filter, subject string) bool {
	if p, ok := strings.CutSuffix(filter, ">"); ok {
		return strings.HasPrefix(subject, p) && len(subject) > len(p)
	}
	return filter == subject
}

func TestStreamNames(t *testing.T) {
	n := newNames("herald")
	tests := []struct {
		name, ns, want string
	}{
		{"lowercase stays", "chat", "HERALD_chat"},
		{"digits and dash stay", "a-1", "HERALD_a-1"},
		{"uppercase is escaped", "Chat", "HERALD__43hat"},
		{"underscore is escaped", "a_b", "HERALD_a_5Fb"},
		{"punctuation is escaped", "a/b$c", "HERALD_a_2Fb_24c"},
		{"long names get a digest", strings.Repeat("x", 100), "HERALD_" + strings.Repeat("x", 30) + "__"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := n.stream(tt.ns)
			if !strings.HasPrefix(got, tt.want) || (!strings.Contains(tt.want, "__") && got != tt.want) {
				t.Errorf("stream(%q) = %q, want %q", tt.ns, got, tt.want)
			}
		})
	}
	// Every namespace byte gives a valid stream name, and no two
	// namespaces share one, even with case folded (a case-insensitive
	// file system).
	seen := map[string]string{}
	for _, c := range channelBytes() {
		for _, ns := range []string{string(c), "a" + string(c), string(c) + "Z", strings.Repeat(string(c), 90)} {
			name := n.stream(ns)
			if strings.ContainsAny(name, " \t\r\n\f.*>\\/") || len(name) > 100 {
				t.Errorf("namespace %q: stream name %q is not valid", ns, name)
			}
			key := strings.ToLower(name)
			if other, dup := seen[key]; dup && other != ns {
				t.Errorf("namespaces %q and %q share stream name %q", ns, other, name)
			}
			seen[key] = ns
		}
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"herald", true},
		{"Herald_app-2", true},
		{"", false},
		{"a.b", false},
		{"a b", false},
		{"a*", false},
		{"é", false},
		{strings.Repeat("p", 32), true},
		{strings.Repeat("p", 33), false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if got := validPrefix(tt.prefix); got != tt.ok {
				t.Errorf("validPrefix(%q) = %v", tt.prefix, got)
			}
		})
	}
}

func TestKeyToken(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "conn-1_A/b", "conn-1_A/b"},
		{"dots are escaped", "chat.room", "chat=2Eroom"},
		{"escape char is escaped", "a=b", "a=3Db"},
		{"other bytes", "a b*>\x00é", "a=20b=2A=3E=00=C3=A9"},
		{"empty", "", "="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keyToken(tt.in)
			if got != tt.want {
				t.Fatalf("keyToken(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !validKey(got) || strings.Contains(got, ".") {
				t.Fatalf("keyToken(%q) = %q is not one valid key token", tt.in, got)
			}
			back, err := decodeKeyToken(got)
			if err != nil || back != tt.in {
				t.Fatalf("decodeKeyToken(%q) = %q, %v; want %q", got, back, err, tt.in)
			}
		})
	}
	for _, bad := range []string{"", "a.b", "=4", "=zz", "=41", "a=2e", "=2E=", "é"} {
		if s, err := decodeKeyToken(bad); err == nil {
			t.Errorf("decodeKeyToken(%q) = %q, want an error", bad, s)
		}
	}
}

func FuzzKeyToken(f *testing.F) {
	f.Add("chat.room=1")
	f.Add("=")
	f.Add("=2E")
	f.Add("a=4")
	f.Fuzz(func(t *testing.T, s string) {
		tok := keyToken(s)
		if back, err := decodeKeyToken(tok); err != nil || back != s {
			t.Fatalf("keyToken(%q) = %q decodes to %q, %v", s, tok, back, err)
		}
		if !validKey(tok) {
			t.Fatalf("keyToken(%q) = %q is not a valid key", s, tok)
		}
		// Decoding accepts only what keyToken writes.
		if d, err := decodeKeyToken(s); err == nil && keyToken(d) != s {
			t.Fatalf("decodeKeyToken(%q) = %q, which encodes to %q", s, d, keyToken(d))
		}
	})
}

func TestMsgID(t *testing.T) {
	ids := map[string][2]string{}
	for _, p := range [][2]string{{"a", "b.c"}, {"a.b", "c"}, {"a", "bc"}, {"ab", "c"}, {"a", ""}, {"a.x", ""}} {
		id := msgID(p[0], p[1])
		if len(id) != 32 {
			t.Errorf("msgID(%q, %q) = %q: want 32 hex digits", p[0], p[1], id)
		}
		if other, dup := ids[id]; dup {
			t.Errorf("msgID of %q and %q collide", p, other)
		}
		ids[id] = p
	}
}

// TestMapKeys: every valid channel, map name and key make a valid KV key,
// which decodes back to the key and which only its own map's filter
// matches.
func TestMapKeys(t *testing.T) {
	n := newNames("herald")
	longest := strings.Repeat("c", protocol.MaxChannelLen)
	addrs := []struct{ channel, name, key string }{
		{"chat.1", "read", "alice"},
		{"chat.1", "read", "a.b c/*>=2E\x00é"},
		{"chat.1", "reader", "alice"},
		{"chat.1", "state", "alice"},
		{"chat", "read", "1.read.alice"},
		{"chat.1.read", "alice", "x"},
		{"chat/1.#$%&", "read", "*"},
		{longest, "read", strings.Repeat("é", 128)},
	}
	for _, a := range addrs {
		k := mapKey(a.channel, a.name, a.key)
		if !validKey(k) || !server.IsValidPublishSubject("$KV."+n.mapBucket()+"."+k) {
			t.Errorf("%q/%q/%q: key %q is not a valid KV key", a.channel, a.name, a.key, k)
		}
		if back, err := decodeKeyToken(k[strings.LastIndexByte(k, '.')+1:]); err != nil || back != a.key {
			t.Errorf("key %q decodes to %q, %v; want %q", k, back, err, a.key)
		}
		for _, b := range addrs {
			same := a.channel == b.channel && a.name == b.name
			if got := tokensMatch(mapFilter(b.channel, b.name), k); got != same {
				t.Errorf("filter of %q/%q matches key %q of %q/%q: %v, want %v", b.channel, b.name, k, a.channel, a.name, got, same)
			}
		}
	}
}

// tokensMatch reports whether subject matches filter, whose only
// wildcards are '*' tokens.
func tokensMatch(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}
