package pubbody

import (
	"bytes"
	"testing"

	"github.com/heraldrt/herald"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    herald.Publication
	}{
		{"all fields", herald.Publication{ID: "m-1", Event: "message.new", From: "alice", Payload: []byte(`{"text":"hi"}`)}},
		{"empty strings", herald.Publication{Payload: []byte(`null`)}},
		{"long id", herald.Publication{ID: string(bytes.Repeat([]byte("x"), 300)), Payload: []byte(`1`)}},
		{"no payload", herald.Publication{ID: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Encode(&tt.p)
			for _, got := range []*herald.Publication{must(Decode(b, 7, 9)), must(Decode(string(b), 7, 9))} {
				if got.ID != tt.p.ID || got.Event != tt.p.Event || got.From != tt.p.From ||
					!bytes.Equal(got.Payload, tt.p.Payload) || got.Seq != 7 || got.Time != 9 {
					t.Fatalf("got %+v, want %+v", got, tt.p)
				}
			}
		})
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
	f.Add([]byte{Version, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b, 1, 1)
		if err != nil {
			return
		}
		// What decodes survives a round trip (the input's lengths may
		// be non-minimal varints, so its bytes need not come back).
		q, err := Decode(Encode(p), 1, 1)
		if err != nil || q.ID != p.ID || q.Event != p.Event || q.From != p.From || !bytes.Equal(q.Payload, p.Payload) {
			t.Fatalf("%q decoded to %+v, which round-trips to %+v (%v)", b, p, q, err)
		}
	})
}
