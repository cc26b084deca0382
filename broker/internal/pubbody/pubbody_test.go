package pubbody

import (
	"bytes"
	"testing"

	"github.com/heraldrt/herald"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		p       herald.Publication
		version byte
	}{
		{"all fields", herald.Publication{ID: "m-1", Event: "message.new", From: "alice", Payload: []byte(`{"text":"hi"}`)}, Version1},
		{"empty strings", herald.Publication{Payload: []byte(`null`)}, Version1},
		{"long id", herald.Publication{ID: string(bytes.Repeat([]byte("x"), 300)), Payload: []byte(`1`)}, Version1},
		{"no payload", herald.Publication{ID: "x"}, Version1},
		{"edit", herald.Publication{ID: "e-1", Event: "message.new", From: "alice", Op: "edit", Ref: 7, Payload: []byte(`{"text":"hi!"}`)}, Version2},
		{"delete without payload", herald.Publication{ID: "d-1", From: "alice", Op: "delete", Ref: 1}, Version2},
		{"react with a large ref", herald.Publication{ID: "r", From: "bob", Op: "react", Ref: 1<<63 + 5, Payload: []byte(`"👍"`)}, Version2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Encode(&tt.p)
			if b[0] != tt.version {
				t.Fatalf("written as version %d, want %d", b[0], tt.version)
			}
			for _, got := range []*herald.Publication{must(Decode(b, 7, 9)), must(Decode(string(b), 7, 9))} {
				if got.ID != tt.p.ID || got.Event != tt.p.Event || got.From != tt.p.From || got.Op != tt.p.Op ||
					got.Ref != tt.p.Ref || !bytes.Equal(got.Payload, tt.p.Payload) || got.Seq != 7 || got.Time != 9 {
					t.Fatalf("got %+v, want %+v", got, tt.p)
				}
			}
		})
	}
}

// TestDecodesVersion1 reads bodies as the first version of the format
// wrote them, byte for byte: logs written before op entries existed stay
// readable.
func TestDecodesVersion1(t *testing.T) {
	b := []byte("\x01\x03m-1\x0bmessage.new\x05alice{\"text\":\"hi\"}")
	p, err := Decode(b, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "m-1" || p.Event != "message.new" || p.From != "alice" || string(p.Payload) != `{"text":"hi"}` ||
		p.Op != "" || p.Ref != 0 || p.Seq != 3 || p.Time != 4 {
		t.Fatalf("decoded %+v", p)
	}
	if !bytes.Equal(Encode(p), b) {
		t.Fatalf("a publication without an op is written as %q, want version 1 as before: %q", Encode(p), b)
	}
}

func TestCorrupt(t *testing.T) {
	for _, b := range []string{"", "\x03\x00\x00\x00", "\x02\x00\x00\x00", "\x02\x00\x00\x00\x04edi", "\x02\x00\x00\x00\x00\xff", "\x01\x05ab"} {
		if p, err := Decode(b, 1, 1); err == nil {
			t.Errorf("Decode(%q) = %+v, want ErrCorrupt", b, p)
		}
	}
}

func must(p *herald.Publication, err error) *herald.Publication {
	if err != nil {
		panic(err)
	}
	return p
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(&herald.Publication{ID: "a", Event: "e", From: "u", Payload: []byte(`{}`)}))
	f.Add(Encode(&herald.Publication{ID: "a", From: "u", Op: "react", Ref: 300, Payload: []byte(`"x"`)}))
	f.Add([]byte{Version1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{Version2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b, 1, 1)
		if err != nil {
			return
		}
		// What decodes survives a round trip (the input's lengths may
		// be non-minimal varints, so its bytes need not come back).
		q, err := Decode(Encode(p), 1, 1)
		if err != nil || q.ID != p.ID || q.Event != p.Event || q.From != p.From || q.Op != p.Op || q.Ref != p.Ref || !bytes.Equal(q.Payload, p.Payload) {
			t.Fatalf("%q decoded to %+v, which round-trips to %+v (%v)", b, p, q, err)
		}
	})
}

// TestDecodeCopies: the publication does not share the caller's buffer,
// which a client library may reuse.
func TestDecodeCopies(t *testing.T) {
	b := Encode(&herald.Publication{ID: "i", Payload: []byte(`"abc"`)})
	p, err := Decode(b, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-2] = 'x'
	if string(p.Payload) != `"abc"` {
		t.Fatalf("the payload changed with the buffer: %s", p.Payload)
	}
}
