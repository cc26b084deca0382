package auth

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/heraldrt/herald/protocol"
)

// FuzzPrivateClaims: any verified payload gives valid patterns and an
// info object within bounds, or an error; never a panic.
func FuzzPrivateClaims(f *testing.F) {
	for _, s := range []string{
		`{"sub":"a","channels":["chat.>","user.*"],"info":{"name":"A"}}`,
		`{"channels":null,"info":null}`, `{"channels":"chat.>"}`, `{"channels":["chat..1"]}`,
		`{"info":[1]}`, `{"info":{"x":"` + string(make([]byte, 1100)) + `"}}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		channels, info, err := privateClaims(payload)
		if err != nil {
			return
		}
		for _, p := range channels {
			if !protocol.ValidPattern(p) {
				t.Fatalf("pattern %q accepted", p)
			}
		}
		if info != nil {
			var obj map[string]json.RawMessage
			if json.Unmarshal(info, &obj) != nil || obj == nil || len(info) > MaxInfoSize || !utf8.Valid(info) {
				t.Fatalf("info %q accepted", info)
			}
		}
	})
}
