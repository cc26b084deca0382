package webhook

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldrt/herald/protocol"
)

// FuzzVerify: any signature header is checked without a panic, and a
// header passes only if it carries the right MAC (in any hex case).
func FuzzVerify(f *testing.F) {
	secret := []byte("whsec-0123456789abcdef0123456789")
	now := time.Unix(1711234567, 0)
	body := []byte(`{"event":"connect"}`)
	good := Sign(secret, body, now)
	f.Add(good)
	for _, s := range []string{"", "t=1711234567", "v1=00", "t=x,v1=y", "t=1711234567,v1=zz,v1=", ",,,=", "t=-9999999999999999999,v1=00"} {
		f.Add(s)
	}
	_, mac, _ := strings.Cut(good, ",v1=")
	f.Fuzz(func(t *testing.T, header string) {
		if Verify(secret, header, body, now, 0) == nil && !strings.Contains(strings.ToLower(header), mac) {
			t.Fatalf("Verify accepted %q, which does not carry the MAC", header)
		}
	})
}

// FuzzAnswer: any answer body becomes an allow, a refusal with a known
// code and a bounded message, or a bad answer; never a panic.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		`{"result":"allow"}`, `{"result":"allow","payload":{"text":"x"}}`,
		`{"result":"deny","code":"forbidden","message":"no"}`, `{"result":"deny","code":"nope"}`,
		`{"result":"deny","message":"` + string(make([]byte, 600)) + `"}`, `{"result":1}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		var resp Response
		if json.Unmarshal(answer, &resp) != nil || resp.Result != ResultDeny {
			return
		}
		perr, _ := resp.refusal("publish")
		if !slices.Contains(protocol.Codes, perr.Code) {
			t.Fatalf("refusal code %q is not a protocol code", perr.Code)
		}
		if len(perr.Message) > maxDenyMessage || (utf8.ValidString(resp.Message) && !utf8.ValidString(perr.Message)) {
			t.Fatalf("refusal message %q (%d bytes)", perr.Message, len(perr.Message))
		}
	})
}
