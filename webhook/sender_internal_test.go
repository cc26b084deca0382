package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldrt/herald/protocol"
)

func TestBackoff(t *testing.T) {
	cases := []struct {
		name string
		b    backoff
		want []time.Duration // the full wait of attempts 1, 2, …
	}{
		{name: "decisions", b: decisionBackoff, want: []time.Duration{100, 200, 400, 800, 1000, 1000}},
		{name: "notifications", b: notifyBackoff, want: []time.Duration{200, 400, 800, 1600, 3200, 6400, 10000, 10000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, full := range tc.want {
				full *= time.Millisecond
				for range 100 {
					if d := tc.b.delay(i + 1); d < full/2 || d > full {
						t.Fatalf("attempt %d waits %v, want [%v, %v]", i+1, d, full/2, full)
					}
				}
			}
			if d := tc.b.delay(1000); d > tc.b.max {
				t.Errorf("attempt 1000 waits %v, more than %v", d, tc.b.max)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0", 0},
		{"-1", 0},
		{"soon", 0},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			if got := retryAfter(tc.header, now); got != tc.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}

func TestRefusal(t *testing.T) {
	long := strings.Repeat("é", maxDenyMessage) // 2 bytes each
	cases := []struct {
		name  string
		resp  Response
		code  protocol.Code
		msg   string
		known bool
	}{
		{name: "code and message", resp: Response{Code: protocol.CodeNotFound, Message: "gone"}, code: protocol.CodeNotFound, msg: "gone", known: true},
		{name: "defaults", resp: Response{}, code: protocol.CodeForbidden, msg: "the app backend denied this subscribe", known: true},
		{name: "unknown code", resp: Response{Code: "nope", Message: "x"}, code: protocol.CodeForbidden, msg: "x"},
		{name: "long message cut on a rune", resp: Response{Message: long}, code: protocol.CodeForbidden, msg: long[:maxDenyMessage], known: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			perr, known := tc.resp.refusal(EventSubscribe)
			if perr.Code != tc.code || perr.Message != tc.msg || known != tc.known {
				t.Errorf("refusal = %v %v, want %s %q %v", perr, known, tc.code, tc.msg, tc.known)
			}
			if !utf8.ValidString(perr.Message) || len(perr.Message) > maxDenyMessage {
				t.Errorf("message of %d bytes, valid UTF-8 %v", len(perr.Message), utf8.ValidString(perr.Message))
			}
		})
	}
}
