package mapentry

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    herald.MapEntry
	}{
		{"empty value", herald.MapEntry{Key: "k", Version: 1}},
		{"version zero", herald.MapEntry{Key: "k", Version: 0, Value: []byte("x")}},
		{"largest version", herald.MapEntry{Key: "k", Version: ^uint64(0), Value: []byte(`{"a":1}`)}},
		{"binary value", herald.MapEntry{Key: "k", Version: 1 << 40, Value: []byte{0, 1, 0xff}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := Encode(tt.e)
			if len(rec) != VersionLen+len(tt.e.Value) {
				t.Fatalf("record of %d bytes for a value of %d", len(rec), len(tt.e.Value))
			}
			for _, got := range []herald.MapEntry{must(Decode(tt.e.Key, rec)), must(Decode(tt.e.Key, string(rec)))} {
				if got.Key != tt.e.Key || got.Version != tt.e.Version || !bytes.Equal(got.Value, tt.e.Value) {
					t.Fatalf("got %+v, want %+v", got, tt.e)
				}
			}
		})
	}
}

// TestRecordsCompareAsVersions: the Redis script compares the first
// VersionLen bytes of records byte by byte.
func TestRecordsCompareAsVersions(t *testing.T) {
	vs := []uint64{0, 1, 255, 256, 1 << 32, 1<<63 + 5, ^uint64(0)}
	for i, a := range vs {
		for j, b := range vs {
			ra, rb := Encode(herald.MapEntry{Version: a}), Encode(herald.MapEntry{Version: b})
			if got, want := bytes.Compare(ra[:VersionLen], rb[:VersionLen]), cmp(i, j); got != want {
				t.Errorf("versions %d and %d compare as %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestDecodeCopies(t *testing.T) {
	rec := Encode(herald.MapEntry{Version: 1, Value: []byte("abc")})
	e := must(Decode("k", rec))
	rec[VersionLen] = 'x'
	if string(e.Value) != "abc" {
		t.Fatalf("the decoded value changed with the record: %q", e.Value)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	if _, err := Decode("k", []byte{1, 2, 3}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a short record decoded: %v", err)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		mapName string
		keys    []string
		ok      bool
	}{
		{"plain", "chat.1", "read", []string{"alice"}, true},
		{"no keys", "chat.1", "state", nil, true},
		{"key with everything", "chat/1.#x", "read", []string{"a.b c/*>é\x00"}, true},
		{"longest key", "c", "read", []string{strings.Repeat("k", MaxKey)}, true},
		{"longest name", "c", strings.Repeat("n", MaxName), nil, true},
		{"bad channel", "chat.*", "read", nil, false},
		{"empty channel", "", "read", nil, false},
		{"empty name", "c", "", nil, false},
		{"name with a dot", "c", "a.b", nil, false},
		{"name too long", "c", strings.Repeat("n", MaxName+1), nil, false},
		{"empty key", "c", "read", []string{"a", ""}, false},
		{"key too long", "c", "read", []string{strings.Repeat("k", MaxKey+1)}, false},
		{"key not UTF-8", "c", "read", []string{"\xff"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.channel, tt.mapName, tt.keys...)
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func must(e herald.MapEntry, err error) herald.MapEntry {
	if err != nil {
		panic(err)
	}
	return e
}

func TestUnique(t *testing.T) {
	tests := []struct {
		name       string
		keys, want []string
	}{
		{"none", nil, nil},
		{"one", []string{"a"}, []string{"a"}},
		{"no repeats", []string{"b", "a"}, []string{"b", "a"}},
		{"repeats", []string{"a", "b", "a", "c", "b"}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unique(tt.keys); strings.Join(got, ",") != strings.Join(tt.want, ",") || len(got) != len(tt.want) {
				t.Fatalf("Unique(%q) = %q, want %q", tt.keys, got, tt.want)
			}
		})
	}
}
