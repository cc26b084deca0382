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

func TestDecodePubSub(t *testing.T) {
	pub := herald.Publication{Seq: 7, ID: "x", Event: "e", From: "f", Payload: []byte("{}"), Time: 9}
	tests := []struct {
		name     string
		msg      string
		wantPub  *herald.Publication
		wantData []byte
	}{
		{"a publication notice", encodeMessage(&pub), &pub, nil},
		{"an ephemeral message", encodeEphemeral([]byte(`{"typing":true}`)), nil, []byte(`{"typing":true}`)},
		{"an empty ephemeral message", encodeEphemeral(nil), nil, []byte{}},
		{"an ephemeral message that reads like a notice", encodeEphemeral([]byte(encodeMessage(&pub))), nil, []byte(encodeMessage(&pub))},
		{"an ephemeral message that starts with the mark", encodeEphemeral([]byte("!!")), nil, []byte("!!")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, data, err := decodePubSub(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tt.wantPub) || !reflect.DeepEqual(data, tt.wantData) {
				t.Fatalf("decodePubSub(%q) = %+v, %q; want %+v, %q", tt.msg, p, data, tt.wantPub, tt.wantData)
			}
		})
	}
	for _, bad := range []string{"", "x", "1:2", "?" + encodeMessage(&pub)} {
		if p, data, err := decodePubSub(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("decodePubSub(%q) = %+v, %q, %v; want errCorrupt", bad, p, data, err)
		}
	}
}

// FuzzDecodePubSub checks that a pub/sub message is one kind or the
// other, never both, and that each kind re-encodes to what was read: a
// notice the publish script could send is never taken for an ephemeral
// message, and the reverse.
func FuzzDecodePubSub(f *testing.F) {
	f.Add(encodeMessage(&herald.Publication{Seq: 3, ID: "x", Event: "e", From: "f", Payload: []byte("{}"), Time: 3}))
	f.Add(encodeEphemeral([]byte(`{"typing":true}`)))
	f.Add(encodeEphemeral(nil))
	f.Add("!1:2:\x01\x00\x00\x00")
	f.Add("1:2:!")
	f.Fuzz(func(t *testing.T, m string) {
		p, data, err := decodePubSub(m)
		switch {
		case err != nil:
			if p != nil || data != nil {
				t.Fatalf("an error with a result: %+v, %q", p, data)
			}
		case p != nil && data != nil, p == nil && data == nil:
			t.Fatalf("decodePubSub(%q) = %+v, %q: want one of them", m, p, data)
		case p != nil:
			again := encodeMessage(p)
			if again[0] == ephemeralMark {
				t.Fatalf("the notice of %+v starts with the ephemeral mark", p)
			}
			if q, _, err := decodePubSub(again); err != nil || !reflect.DeepEqual(p, q) {
				t.Fatalf("re-encoding %+v gives %+v, %v", p, q, err)
			}
		default:
			if again := encodeEphemeral(data); again != m {
				t.Fatalf("re-encoding %q gives %q, want %q", data, again, m)
			}
		}
	})
}
