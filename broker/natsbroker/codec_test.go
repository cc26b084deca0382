package natsbroker

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/heraldrt/herald"
)

func TestPublicationCodec(t *testing.T) {
	tests := []struct {
		name string
		pub  herald.Publication
	}{
		{"full", herald.Publication{Seq: 9, ID: "id-1", Event: "message.new", From: "alice", Payload: []byte(`{"a":1}`), Time: 1711234567890}},
		{"empty strings", herald.Publication{Seq: 1, Payload: []byte(`null`)}},
		{"negative time", herald.Publication{Seq: 2, Payload: []byte(`1`), Time: -5}},
		{"header-hostile strings", herald.Publication{Seq: 3, ID: "a\r\nB: c", Event: "\x00", From: "é", Payload: []byte(`"x"`), Time: 7}},
		{"largest seq", herald.Publication{Seq: 1<<64 - 1, Payload: []byte(`{}`), Time: 1<<63 - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := encodeMessage("herald.x", &tt.pub, tt.pub.Seq, tt.pub.Time)
			got, err := decodePublication(m.Header, m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.pub) {
				t.Errorf("round trip: got %+v, want %+v", *got, tt.pub)
			}
		})
	}
}

func TestDecodePublicationRejects(t *testing.T) {
	good := encodeMessage("herald.x", &herald.Publication{ID: "i", Payload: []byte("1")}, 4, 5)
	hdr := func(seq, time string) nats.Header {
		h := nats.Header{}
		if seq != "" {
			h.Set(hdrSeq, seq)
		}
		if time != "" {
			h.Set(hdrTime, time)
		}
		return h
	}
	tests := []struct {
		name string
		h    nats.Header
		data []byte
	}{
		{"no headers", nil, good.Data},
		{"no seq", hdr("", "5"), good.Data},
		{"seq zero", hdr("0", "5"), good.Data},
		{"seq not a number", hdr("x", "5"), good.Data},
		{"seq overflows", hdr("18446744073709551616", "5"), good.Data},
		{"no time", hdr("4", ""), good.Data},
		{"empty body", hdr("4", "5"), nil},
		{"unknown version", hdr("4", "5"), append([]byte{2}, good.Data[1:]...)},
		{"truncated field", hdr("4", "5"), []byte{1, 9, 'a'}},
		{"huge length", hdr("4", "5"), []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := decodePublication(tt.h, tt.data); !errors.Is(err, errCorrupt) {
				t.Fatalf("decoded %+v, %v; want errCorrupt", p, err)
			}
		})
	}
}

func FuzzDecodePublication(f *testing.F) {
	m := encodeMessage("herald.x", &herald.Publication{ID: "x", Event: "e", From: "f", Payload: []byte("{}")}, 3, 4)
	f.Add("3", "4", m.Data)
	f.Add("1", "-1", []byte{1})
	f.Add("18446744073709551615", "0", []byte{1, 0, 0, 0})
	f.Add("", "", []byte{})
	f.Fuzz(func(t *testing.T, seq, time string, data []byte) {
		h := nats.Header{hdrSeq: {seq}, hdrTime: {time}}
		p, err := decodePublication(h, data)
		if err != nil {
			return
		}
		again := encodeMessage("herald.x", p, p.Seq, p.Time)
		q, err := decodePublication(again.Header, again.Data)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("re-encoding %+v gives %+v, %v", p, q, err)
		}
		if strconv.FormatUint(p.Seq, 10) != again.Header.Get(hdrSeq) {
			t.Fatalf("seq %d written as %q", p.Seq, again.Header.Get(hdrSeq))
		}
	})
}

func TestPresenceValue(t *testing.T) {
	tests := []struct {
		name    string
		user    string
		info    json.RawMessage
		wantErr bool
	}{
		{"no info", "alice", nil, false},
		{"info kept byte for byte", "bob", json.RawMessage(`{ "name" : "Bob" , "tags":["<a>"] }`), false},
		{"null info", "carol", json.RawMessage(`null`), false},
		{"quotes in user", `"quoted" \ user`, json.RawMessage(`1`), false},
		{"invalid info", "dave", json.RawMessage(`{`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := encodePresence(tt.user, tt.info, "node.1")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("encoded %s, want an error", enc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := decodePresence(enc)
			if err != nil {
				t.Fatalf("decode %s: %v", enc, err)
			}
			if v.UserID != tt.user || string(v.Info) != string(tt.info) || v.Node != "node.1" {
				t.Fatalf("round trip of %s: %+v", enc, v)
			}
		})
	}
}

func FuzzDecodePresence(f *testing.F) {
	v, _ := encodePresence("alice", json.RawMessage(`{"a":1}`), "n.1")
	f.Add(v)
	f.Add([]byte(`{"userId":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodePresence(data)
		if err != nil {
			return
		}
		enc, err := encodePresence(v.UserID, v.Info, v.Node)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", v, err)
		}
		w, err := decodePresence(enc)
		if err != nil || w.UserID != v.UserID || string(w.Info) != string(v.Info) || w.Node != v.Node {
			t.Fatalf("re-encoding %+v gives %+v, %v", v, w, err)
		}
	})
}
