package membroker

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/heraldrt/herald"
)

func TestPublicationCodec(t *testing.T) {
	tests := []struct {
		name string
		pub  herald.Publication
	}{
		{"full", herald.Publication{Seq: 9, ID: "id-1", Event: "message.new", From: "alice", Payload: []byte(`{"a":1}`), Time: 1711234567890}},
		{"empty strings", herald.Publication{Seq: 1, Payload: []byte(`null`), Time: 0}},
		{"negative time", herald.Publication{Seq: 2, Payload: []byte(`1`), Time: -5}},
		{"edit", herald.Publication{Seq: 3, ID: "e", From: "alice", Op: "edit", Ref: 1, Payload: []byte(`{"a":2}`), Time: 7}},
		{"delete without payload", herald.Publication{Seq: 4, ID: "d", From: "alice", Op: "delete", Ref: 1, Time: 8}},
		{"react", herald.Publication{Seq: 5, ID: "r", From: "bob", Op: "react", Ref: 1 << 40, Payload: []byte(`"👍"`), Time: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodePublication(&tt.pub)
			got, err := decodePublication(enc, tt.pub.Seq)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.pub) {
				t.Errorf("round trip: got %+v, want %+v", *got, tt.pub)
			}
			if ts, err := decodeTime(enc); err != nil || ts != tt.pub.Time {
				t.Errorf("decodeTime = %d, %v; want %d", ts, err, tt.pub.Time)
			}
		})
	}
}

// TestDecodesVersion1 reads a record as the first version of the codec
// wrote it, byte for byte: a log written before op entries existed stays
// readable, and a publication without an op is still written that way.
func TestDecodesVersion1(t *testing.T) {
	b := []byte("\x01\x06\x01x\x01e\x01f{}")
	p, err := decodePublication(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := herald.Publication{Seq: 2, Time: 3, ID: "x", Event: "e", From: "f", Payload: []byte("{}")}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("decoded %+v, want %+v", *p, want)
	}
	if got := encodePublication(p); !bytes.Equal(got, b) {
		t.Fatalf("encoded as %q, want version 1 as before: %q", got, b)
	}
}

func TestKeysOrderBySeqWithinChannel(t *testing.T) {
	a := messageKey(nil, "chat", 255)
	b := messageKey(nil, "chat", 256)
	other := messageKey(nil, "chat.1", 1)
	if bytes.Compare(a, b) >= 0 {
		t.Error("seq 255 does not sort before 256")
	}
	// "chat\x00" sorts before "chat.1": a channel's range never interleaves
	// with a longer name that shares its prefix.
	if bytes.Compare(b, other) >= 0 {
		t.Error("channel chat's keys do not sort before chat.1's")
	}
}

func FuzzDecodePublication(f *testing.F) {
	f.Add(encodePublication(&herald.Publication{ID: "x", Event: "e", From: "f", Payload: []byte("{}"), Time: 3}))
	f.Add(encodePublication(&herald.Publication{ID: "x", From: "f", Op: "react", Ref: 9, Payload: []byte(`"k"`), Time: 3}))
	f.Add([]byte{1})
	f.Add([]byte{2, 2, 0, 0, 0, 0})
	f.Add([]byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePublication(b, 1)
		if err != nil {
			return
		}
		again, err := decodePublication(encodePublication(p), 1)
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("re-encoding %+v gives %+v, %v", p, again, err)
		}
	})
}

// TestMapKeysStayInTheirMap: a map's keys are exactly those under its
// prefix, whatever the names of neighbouring channels and maps.
func TestMapKeysStayInTheirMap(t *testing.T) {
	prefix := mapPrefix("chat.1", "read")
	upper := mapPrefixEnd("chat.1", "read")
	tests := []struct {
		name                string
		channel, mapName, k string
		in                  bool
	}{
		{"a key of the map", "chat.1", "read", "alice", true},
		{"a key with a zero byte", "chat.1", "read", "a\x00b", true},
		{"a key starting with a zero byte", "chat.1", "read", "\x00", true},
		{"a longer map name", "chat.1", "reader", "alice", false},
		{"a shorter map name", "chat.1", "rea", "d\x00alice", false},
		{"a longer channel", "chat.10", "read", "alice", false},
		{"a channel below", "chat.1.x", "read", "alice", false},
		{"a channel above", "chat", "read", "alice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mapKey(tt.channel, tt.mapName, tt.k)
			in := bytes.Compare(k, prefix) >= 0 && bytes.Compare(k, upper) < 0
			if in != tt.in {
				t.Fatalf("key %q in the range of chat.1/read: %v, want %v", k, in, tt.in)
			}
		})
	}
}
