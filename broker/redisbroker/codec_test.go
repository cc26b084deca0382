package redisbroker

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
)

func TestBodyRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		pub  herald.Publication
	}{
		{"full", herald.Publication{Seq: 9, ID: "id-1", Event: "message.new", From: "alice", Payload: []byte(`{"a":1}`), Time: 1711234567890}},
		{"empty strings", herald.Publication{Seq: 1, Payload: []byte(`null`)}},
		{"long id", herald.Publication{Seq: maxSeq, ID: strings.Repeat("x", 300), Payload: []byte(`1`), Time: 1}},
		{"colons and binary", herald.Publication{Seq: 2, ID: "a:b:c", Event: "e:1", Payload: []byte("\x00:\xff"), Time: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMessage(encodeMessage(&tt.pub))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.pub) {
				t.Errorf("message round trip: got %+v, want %+v", *got, tt.pub)
			}
			got, err = decodeEntry(formatUint(tt.pub.Seq)+"-0", map[string]string{
				"t": formatUint(uint64(tt.pub.Time)), "b": string(encodeBody(&tt.pub)),
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.pub) {
				t.Errorf("entry round trip: got %+v, want %+v", *got, tt.pub)
			}
		})
	}
}

func TestDecodeMessageRejects(t *testing.T) {
	body := string(encodeBody(&herald.Publication{ID: "x", Payload: []byte("1")}))
	tests := []struct {
		name, msg string
	}{
		{"empty", ""},
		{"no time", "1"},
		{"no body separator", "1:2"},
		{"seq zero", "0:2:" + body},
		{"seq not a number", "x:2:" + body},
		{"seq beyond the scripts' range", "9007199254740992:2:" + body},
		{"negative time", "1:-2:" + body},
		{"empty body", "1:2:"},
		{"unknown version", "1:2:\x02" + body[1:]},
		{"length past the end", "1:2:\x01\x05ab"},
		{"overlong varint", "1:2:\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := decodeMessage(tt.msg); !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeMessage(%q) = %+v, %v; want errCorrupt", tt.msg, p, err)
			}
		})
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	body := string(encodeBody(&herald.Publication{ID: "x", Payload: []byte("1")}))
	tests := []struct {
		name   string
		id     string
		fields map[string]string
	}{
		{"id with a sequence part", "5-1", map[string]string{"t": "1", "b": body}},
		{"id without a sequence part", "5", map[string]string{"t": "1", "b": body}},
		{"id not a number", "x-0", map[string]string{"t": "1", "b": body}},
		{"no time", "5-0", map[string]string{"b": body}},
		{"time not a number", "5-0", map[string]string{"t": "soon", "b": body}},
		{"no body", "5-0", map[string]string{"t": "1"}},
		{"corrupt body", "5-0", map[string]string{"t": "1", "b": "\x01\x09"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := decodeEntry(tt.id, tt.fields); !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeEntry = %+v, %v; want errCorrupt", p, err)
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeMessage(&herald.Publication{Seq: 3, ID: "x", Event: "e", From: "f", Payload: []byte("{}"), Time: 3}))
	f.Add("1:2:\x01")
	f.Add("1:2:\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
	f.Add("18446744073709551615:9223372036854775807:\x01\x00\x00\x00")
	f.Fuzz(func(t *testing.T, m string) {
		p, err := decodeMessage(m)
		if err != nil {
			return
		}
		again, err := decodeMessage(encodeMessage(p))
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("re-encoding %+v gives %+v, %v", p, again, err)
		}
	})
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add("7-0", "1711234567890", string(encodeBody(&herald.Publication{ID: "x", Payload: []byte("1")})))
	f.Add("7-1", "", "")
	f.Add("-0", "-1", "\x01\x80")
	f.Fuzz(func(t *testing.T, id, ts, body string) {
		p, err := decodeEntry(id, map[string]string{"t": ts, "b": body})
		if err != nil {
			return
		}
		again, err := decodeEntry(formatUint(p.Seq)+"-0", map[string]string{
			"t": formatUint(uint64(p.Time)), "b": string(encodeBody(p)),
		})
		if err != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("re-encoding %+v gives %+v, %v", p, again, err)
		}
	})
}
