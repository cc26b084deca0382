package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

// The tests of this file check channel maps ([herald.MapBroker]): a key's
// version only grows, whoever writes it, wherever, and whatever restarts.
// Channel names follow protocol.ValidChannel; keys are any non-empty
// UTF-8 of up to 256 bytes; map names are short ASCII identifiers.

func mapsOf(t *testing.T, b herald.Broker) herald.MapBroker {
	t.Helper()
	m, ok := b.(herald.MapBroker)
	if !ok {
		t.Skip("the broker keeps no channel maps")
	}
	return m
}

func mapPut(t *testing.T, m herald.MapBroker, ch, name string, e herald.MapEntry) (bool, herald.MapEntry) {
	t.Helper()
	stored, now, err := m.MapPut(context.Background(), ch, name, e)
	if err != nil {
		t.Fatalf("MapPut(%s, %s, %s): %v", ch, name, showEntry(e), err)
	}
	return stored, now
}

// mapGet returns the entries sorted by key.
func mapGet(t *testing.T, m herald.MapBroker, ch, name string, keys ...string) []herald.MapEntry {
	t.Helper()
	es, err := m.MapGet(context.Background(), ch, name, keys...)
	if err != nil {
		t.Fatalf("MapGet(%s, %s, %q): %v", ch, name, keys, err)
	}
	slices.SortFunc(es, func(a, b herald.MapEntry) int { return strings.Compare(a.Key, b.Key) })
	return es
}

// mapGetRetrying reads until the broker answers, through the errors of
// a server that is away for a while.
func mapGetRetrying(t *testing.T, m herald.MapBroker, ch, name string) []herald.MapEntry {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		es, err := m.MapGet(ctx, ch, name)
		cancel()
		if err == nil {
			slices.SortFunc(es, func(a, b herald.MapEntry) int { return strings.Compare(a.Key, b.Key) })
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("MapGet(%s, %s) kept failing: %v", ch, name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sameEntry(a, b herald.MapEntry) bool {
	return a.Key == b.Key && a.Version == b.Version && bytes.Equal(a.Value, b.Value)
}

func sameEntries(a, b []herald.MapEntry) bool {
	return slices.EqualFunc(a, b, sameEntry)
}

// showEntry prints an entry, with a long value cut short.
func showEntry(e herald.MapEntry) string {
	v := string(e.Value)
	if len(v) > 40 {
		v = fmt.Sprintf("%s…(%d bytes)", v[:40], len(v))
	}
	return fmt.Sprintf("%q@%d=%q", e.Key, e.Version, v)
}

func showEntries(es []herald.MapEntry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = showEntry(e)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func entry(key string, version uint64, value string) herald.MapEntry {
	var v []byte
	if value != "" {
		v = []byte(value)
	}
	return herald.MapEntry{Key: key, Version: version, Value: v}
}

// testMapPutVersions: one put after the other, each checked by its
// answer and by reading the key back.
func testMapPutVersions(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	m := mapsOf(t, b)
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	longKey := strings.Repeat("k", 256)
	steps := []struct {
		name       string
		channel    string
		mapName    string
		put        herald.MapEntry
		wantStored bool
		wantNow    herald.MapEntry
	}{
		{"first put stores", "conf.map", "read", entry("alice", 5, "a5"), true, entry("alice", 5, "a5")},
		{"higher version replaces", "conf.map", "read", entry("alice", 7, "a7"), true, entry("alice", 7, "a7")},
		{"equal version is refused", "conf.map", "read", entry("alice", 7, "other"), false, entry("alice", 7, "a7")},
		{"lower version is refused", "conf.map", "read", entry("alice", 3, "a3"), false, entry("alice", 7, "a7")},
		{"version 1 above", "conf.map", "read", entry("alice", 8, ""), true, entry("alice", 8, "")},
		{"another key is its own", "conf.map", "read", entry("bob", 1, "b1"), true, entry("bob", 1, "b1")},
		{"version 0 on a new key stores", "conf.map", "read", entry("zero", 0, "z"), true, entry("zero", 0, "z")},
		{"version 0 again is refused", "conf.map", "read", entry("zero", 0, "y"), false, entry("zero", 0, "z")},
		{"the largest version", "conf.map", "read", entry("max", ^uint64(0), "m"), true, entry("max", ^uint64(0), "m")},
		{"nothing passes the largest", "conf.map", "read", entry("max", ^uint64(0), "n"), false, entry("max", ^uint64(0), "m")},
		{"versions past 2^53 compare exactly", "conf.map", "read", entry("big", 1<<60+1, "x"), true, entry("big", 1<<60+1, "x")},
		{"one below past 2^53 is refused", "conf.map", "read", entry("big", 1<<60, "y"), false, entry("big", 1<<60+1, "x")},
		{"a zero-byte value", "conf.map", "state", entry("empty", 1, ""), true, entry("empty", 1, "")},
		{"a 64 KiB value", "conf.map", "state", entry("large", 1, big), true, entry("large", 1, big)},
		{"a 64 KiB value replaced by an empty one", "conf.map", "state", entry("large", 2, ""), true, entry("large", 2, "")},
		{"a value that is not text", "conf.map", "state", entry("bin", 1, "\x00\xff\x01"), true, entry("bin", 1, "\x00\xff\x01")},
		{"key with dots", "conf.map", "read", entry("a.b.c", 1, "1"), true, entry("a.b.c", 1, "1")},
		{"key with unicode", "conf.map", "read", entry("ユーザー✓é", 1, "1"), true, entry("ユーザー✓é", 1, "1")},
		{"key with spaces", "conf.map", "read", entry("  a b  ", 1, "1"), true, entry("  a b  ", 1, "1")},
		{"key with slashes", "conf.map", "read", entry("a/b//c/", 1, "1"), true, entry("a/b//c/", 1, "1")},
		{"key with wildcards", "conf.map", "read", entry("*.>", 1, "1"), true, entry("*.>", 1, "1")},
		{"key that is a wildcard", "conf.map", "read", entry(">", 1, "1"), true, entry(">", 1, "1")},
		{"key with a star", "conf.map", "read", entry("*", 1, "1"), true, entry("*", 1, "1")},
		{"key with a zero byte", "conf.map", "read", entry("a\x00b", 1, "1"), true, entry("a\x00b", 1, "1")},
		{"key with braces and escapes", "conf.map", "read", entry(`{x}=2E%"\`, 1, "1"), true, entry(`{x}=2E%"\`, 1, "1")},
		{"a 256-byte key", "conf.map", "read", entry(longKey, 1, "1"), true, entry(longKey, 1, "1")},
		{"channel with slashes", "conf/map.a/b", "read", entry("alice", 1, "1"), true, entry("alice", 1, "1")},
		{"channel with punctuation", "conf.m#p.$x~!%&=+-_@:;", "read", entry("alice", 1, "1"), true, entry("alice", 1, "1")},
		{"channel of one segment", "confmap", "read", entry("alice", 1, "1"), true, entry("alice", 1, "1")},
		{"the longest channel", strings.Repeat("c", 255), "read", entry(longKey, 1, "1"), true, entry(longKey, 1, "1")},
	}
	for _, st := range steps {
		stored, now := mapPut(t, m, st.channel, st.mapName, st.put)
		if stored != st.wantStored || !sameEntry(now, st.wantNow) {
			t.Fatalf("%s: put %s answered stored=%v now=%s; want %v and %s",
				st.name, showEntry(st.put), stored, showEntry(now), st.wantStored, showEntry(st.wantNow))
		}
		got := mapGet(t, m, st.channel, st.mapName, st.put.Key)
		if len(got) != 1 || !sameEntry(got[0], st.wantNow) {
			t.Fatalf("%s: the key reads %s, want %s", st.name, showEntries(got), showEntry(st.wantNow))
		}
	}
	// Every key written is read back by MapGet of the whole map.
	got := mapGet(t, m, "conf.map", "read")
	var keys []string
	for _, e := range got {
		keys = append(keys, e.Key)
	}
	want := []string{"  a b  ", "*", "*.>", ">", "a.b.c", "a/b//c/", "a\x00b", "alice", "big", "bob", "max", longKey, "zero", `{x}=2E%"\`, "ユーザー✓é"}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("map read holds keys %q, want %q", keys, want)
	}
}

// testMapGet: whole maps, chosen keys, and maps that must not mix.
func testMapGet(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	m := mapsOf(t, b)
	puts := []struct {
		channel, name string
		e             herald.MapEntry
	}{
		{"conf.mapget", "read", entry("alice", 1, "a")},
		{"conf.mapget", "read", entry("bob", 2, "b")},
		{"conf.mapget", "read", entry("carol", 3, "")},
		{"conf.mapget", "reader", entry("alice", 4, "r")},
		{"conf.mapget", "state", entry("alice", 9, `{"s":1}`)},
		{"conf.mapget.other", "read", entry("dave", 4, "d")},
		{"conf.mapge", "read", entry("erin", 5, "e")},
		{"conf.mapgett", "read", entry("frank", 6, "f")},
	}
	for _, p := range puts {
		if stored, _ := mapPut(t, m, p.channel, p.name, p.e); !stored {
			t.Fatalf("the first put of %s in %s/%s was refused", showEntry(p.e), p.channel, p.name)
		}
	}
	tests := []struct {
		name    string
		channel string
		mapName string
		keys    []string
		want    []herald.MapEntry
	}{
		{"all", "conf.mapget", "read", nil, []herald.MapEntry{entry("alice", 1, "a"), entry("bob", 2, "b"), entry("carol", 3, "")}},
		{"selected keys", "conf.mapget", "read", []string{"carol", "alice"}, []herald.MapEntry{entry("alice", 1, "a"), entry("carol", 3, "")}},
		{"one key", "conf.mapget", "read", []string{"bob"}, []herald.MapEntry{entry("bob", 2, "b")}},
		{"absent keys are left out", "conf.mapget", "read", []string{"zed", "bob", "dave"}, []herald.MapEntry{entry("bob", 2, "b")}},
		{"only absent keys", "conf.mapget", "read", []string{"zed"}, nil},
		{"a key asked twice comes once", "conf.mapget", "read", []string{"bob", "bob"}, []herald.MapEntry{entry("bob", 2, "b")}},
		{"a map whose name extends another's", "conf.mapget", "reader", nil, []herald.MapEntry{entry("alice", 4, "r")}},
		{"another map of the channel", "conf.mapget", "state", nil, []herald.MapEntry{entry("alice", 9, `{"s":1}`)}},
		{"a channel below", "conf.mapget.other", "read", nil, []herald.MapEntry{entry("dave", 4, "d")}},
		{"a channel whose name is shorter", "conf.mapge", "read", nil, []herald.MapEntry{entry("erin", 5, "e")}},
		{"a channel whose name is longer", "conf.mapgett", "read", nil, []herald.MapEntry{entry("frank", 6, "f")}},
		{"an empty map", "conf.mapget", "none", nil, nil},
		{"an empty map, by key", "conf.mapget", "none", []string{"alice"}, nil},
		{"a channel without maps", "conf.nomaps", "read", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := m.MapGet(context.Background(), tt.channel, tt.mapName, tt.keys...)
			if err != nil {
				t.Fatalf("MapGet: %v", err)
			}
			slices.SortFunc(es, func(a, b herald.MapEntry) int { return strings.Compare(a.Key, b.Key) })
			if !sameEntries(es, tt.want) {
				t.Fatalf("got %s, want %s", showEntries(es), showEntries(tt.want))
			}
		})
	}
}

// testMapPutConcurrent: many writers race on one key with random
// versions. Each sees the key's version only grow; a put is stored only
// above every version its writer saw before; the key ends with the
// highest version put.
func testMapPutConcurrent(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	m := mapsOf(t, b)
	const workers, each = 8, 50
	maxes := make([]uint64, workers)
	storedN := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var seen uint64 // the highest version this writer has seen the key hold
			for i := range each {
				v := rand.Uint64N(200) + 1
				maxes[w] = max(maxes[w], v)
				e := herald.MapEntry{Key: "k", Version: v, Value: []byte(fmt.Sprint(v))}
				stored, now, err := m.MapPut(context.Background(), "conf.mapconc", "read", e)
				if err != nil {
					t.Errorf("writer %d put %d: %v", w, i, err)
					return
				}
				switch {
				case string(now.Value) != fmt.Sprint(now.Version) || now.Key != "k":
					t.Errorf("writer %d put %d: the key holds %s: value and version do not match", w, i, showEntry(now))
				case stored && !sameEntry(now, e):
					t.Errorf("writer %d put %d: stored, but the key holds %s, not %s", w, i, showEntry(now), showEntry(e))
				case stored && v <= seen:
					t.Errorf("writer %d put %d: version %d stored after the key was seen at %d", w, i, v, seen)
				case !stored && now.Version < v:
					t.Errorf("writer %d put %d: version %d refused while the key holds %s", w, i, v, showEntry(now))
				case now.Version < seen:
					t.Errorf("writer %d put %d: the key went back from %d to %d", w, i, seen, now.Version)
				}
				if stored {
					storedN[w]++
				}
				seen = max(seen, now.Version)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := slices.Max(maxes)
	got := mapGet(t, m, "conf.mapconc", "read")
	if len(got) != 1 || !sameEntry(got[0], entry("k", want, fmt.Sprint(want))) {
		t.Fatalf("the key ends as %s, want version %d, the highest put", showEntries(got), want)
	}
	total := 0
	for _, n := range storedN {
		total += n
	}
	if total == 0 || total > workers*each {
		t.Fatalf("%d of %d puts stored", total, workers*each)
	}
}

// putMapFixture writes a few entries in two maps of one channel and
// returns them by map.
func putMapFixture(t *testing.T, m herald.MapBroker, ch string) map[string][]herald.MapEntry {
	t.Helper()
	want := map[string][]herald.MapEntry{
		"read":  {entry("alice", 12, ""), entry("bob", 30, "x"), entry("ユーザー", 7, "u")},
		"state": {entry("app.title", 31, `{"title":"hi"}`), entry("big", 2, strings.Repeat("v", 65536))},
	}
	for name, es := range want {
		for _, e := range es {
			// A lower version first, so that the entry has been
			// replaced once.
			if e.Version > 1 {
				mapPut(t, m, ch, name, herald.MapEntry{Key: e.Key, Version: e.Version - 1, Value: []byte("old")})
			}
			if stored, now := mapPut(t, m, ch, name, e); !stored {
				t.Fatalf("put %s refused; the key holds %s", showEntry(e), showEntry(now))
			}
		}
	}
	return want
}

// checkMapsAfter checks that the entries of putMapFixture are all there
// and that versions still only grow.
func checkMapsAfter(t *testing.T, m herald.MapBroker, ch string, want map[string][]herald.MapEntry, what string) {
	t.Helper()
	for name, es := range want {
		if got := mapGetRetrying(t, m, ch, name); !sameEntries(got, es) {
			t.Fatalf("after %s, map %s holds %s, want %s", what, name, showEntries(got), showEntries(es))
		}
	}
	if stored, now := mapPut(t, m, ch, "read", entry("bob", 29, "older")); stored || !sameEntry(now, entry("bob", 30, "x")) {
		t.Fatalf("after %s, an older put answered stored=%v now=%s, want a refusal and bob@30", what, stored, showEntry(now))
	}
	if stored, _ := mapPut(t, m, ch, "read", entry("bob", 31, "newer")); !stored {
		t.Fatalf("after %s, a newer put was refused", what)
	}
}

// testMapSurvivesRestart: entries are kept by a broker that restarts.
func testMapSurvivesRestart(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("the broker's data lives in its server, which this suite does not restart")
	}
	b := h.New(t, Options{})
	m := mapsOf(t, b)
	want := putMapFixture(t, m, "conf.maprestart")
	b = h.Reopen(t, b, Options{})
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	if err := b.Start(context.Background(), NewRecorder()); err != nil {
		t.Fatal(err)
	}
	checkMapsAfter(t, mapsOf(t, b), "conf.maprestart", want, "a restart")
}

// testMapServerRestart: entries survive a restart of the broker's
// server, and the broker finds them again by itself.
func testMapServerRestart(t *testing.T, h Harness) {
	if h.RestartServer == nil {
		t.Skip("the harness cannot restart the broker's server")
	}
	b, _ := newBroker(t, h, Options{})
	m := mapsOf(t, b)
	want := putMapFixture(t, m, "conf.mapsrvrestart")
	h.RestartServer(t, b)
	// The first put may meet the server still away; retry it until it
	// is answered. It is refused (bob holds 30) whether or not an
	// earlier try got through.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		stored, now, err := m.MapPut(ctx, "conf.mapsrvrestart", "read", entry("bob", 30, "again"))
		cancel()
		if err == nil {
			if stored || !sameEntry(now, entry("bob", 30, "x")) {
				t.Fatalf("an equal put after the restart answered stored=%v now=%s, want a refusal and bob@30", stored, showEntry(now))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MapPut kept failing after the server restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkMapsAfter(t, m, "conf.mapsrvrestart", want, "a server restart")
}

// testNodesMaps: nodes share maps; writers on two nodes racing on the
// same keys leave each key at the highest version put.
func testNodesMaps(t *testing.T, h Harness) {
	needPeer(t, h)
	b, _ := newBroker(t, h, Options{})
	p, _ := peer(t, h, b, Options{})
	mb, mp := mapsOf(t, b), mapsOf(t, p)
	if stored, _ := mapPut(t, mb, "conf.nodemaps", "read", entry("alice", 3, "a")); !stored {
		t.Fatal("the first put was refused")
	}
	if got := mapGet(t, mp, "conf.nodemaps", "read", "alice"); !sameEntries(got, []herald.MapEntry{entry("alice", 3, "a")}) {
		t.Fatalf("the other node reads %s, want alice@3", showEntries(got))
	}
	if stored, now := mapPut(t, mp, "conf.nodemaps", "read", entry("alice", 2, "old")); stored || !sameEntry(now, entry("alice", 3, "a")) {
		t.Fatalf("an older put on the other node answered stored=%v now=%s, want a refusal and alice@3", stored, showEntry(now))
	}

	const keys, workers, each = 3, 2, 40 // per node
	nodes := []herald.MapBroker{mb, mp}
	maxes := make([][keys]uint64, len(nodes)*workers)
	var wg sync.WaitGroup
	for ni, n := range nodes {
		for w := range workers {
			slot := ni*workers + w
			wg.Go(func() {
				for i := range each {
					k := i % keys
					v := rand.Uint64N(500) + 1
					maxes[slot][k] = max(maxes[slot][k], v)
					e := herald.MapEntry{Key: fmt.Sprint("key", k), Version: v, Value: []byte(fmt.Sprint(v))}
					stored, now, err := n.MapPut(context.Background(), "conf.nodemaps", "race", e)
					if err != nil {
						t.Errorf("node %d writer %d: %v", ni, w, err)
						return
					}
					if stored && !sameEntry(now, e) || !stored && now.Version < v || string(now.Value) != fmt.Sprint(now.Version) {
						t.Errorf("node %d writer %d: put %s answered stored=%v now=%s", ni, w, showEntry(e), stored, showEntry(now))
					}
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var want []herald.MapEntry
	for k := range keys {
		var top uint64
		for _, m := range maxes {
			top = max(top, m[k])
		}
		want = append(want, entry(fmt.Sprint("key", k), top, fmt.Sprint(top)))
	}
	for ni, n := range nodes {
		if got := mapGet(t, n, "conf.nodemaps", "race"); !sameEntries(got, want) {
			t.Fatalf("node %d reads %s, want %s", ni, showEntries(got), showEntries(want))
		}
	}
}

// testMapBadInput: names a broker cannot keep are refused with an
// error, not stored under some other name.
func testMapBadInput(t *testing.T, h Harness) {
	b, _ := newBroker(t, h, Options{})
	m := mapsOf(t, b)
	tests := []struct {
		name    string
		channel string
		mapName string
		key     string
	}{
		{"empty key", "conf.mapbad", "read", ""},
		{"key too long", "conf.mapbad", "read", strings.Repeat("k", 257)},
		{"key not UTF-8", "conf.mapbad", "read", "a\xffb"},
		{"empty map name", "conf.mapbad", "", "k"},
		{"map name with a dot", "conf.mapbad", "re.ad", "k"},
		{"map name with a space", "conf.mapbad", "re ad", "k"},
		{"invalid channel", "conf.*", "read", "k"},
		{"empty channel", "", "read", "k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := m.MapPut(context.Background(), tt.channel, tt.mapName, entry(tt.key, 1, "v")); err == nil {
				t.Error("MapPut took it")
			}
			if _, err := m.MapGet(context.Background(), tt.channel, tt.mapName, tt.key); err == nil {
				t.Error("MapGet took it")
			}
		})
	}
}
