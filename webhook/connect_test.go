package webhook_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/webhook"
)

// unavailable is the message the hub shows when the backend cannot be
// asked.
const unavailable = "the app backend did not answer; retry later"

// TestConnect runs a first auth through the backend's connect decision
// and checks what the client sees and how often the backend was asked.
func TestConnect(t *testing.T) {
	type want struct {
		// code is the error the client gets; empty means auth_ok.
		code    protocol.Code
		message string
		close   int
		// attempts is how many connect requests the backend saw; -1 when
		// there is no backend.
		attempts int
		denied   bool
	}
	cases := []struct {
		name        string
		script      script
		down        bool
		cfg         webhook.Config
		hookTimeout time.Duration
		want        want
	}{
		{name: "allowed", script: allowAll, want: want{attempts: 1}},
		{
			name:   "denied",
			script: answer(200, `{"result":"deny","code":"forbidden","message":"banned until Friday"}`),
			want:   want{code: protocol.CodeForbidden, message: "banned until Friday", close: protocol.CloseForbidden, attempts: 1, denied: true},
		},
		{
			name:   "denied with another code",
			script: answer(200, `{"result":"deny","code":"unauthorized","message":"log in again"}`),
			want:   want{code: protocol.CodeUnauthorized, message: "log in again", close: protocol.CloseAuthFailed, attempts: 1, denied: true},
		},
		{
			name:   "denied with an unknown code shows forbidden",
			script: answer(200, `{"result":"deny","code":"teapot","message":"no"}`),
			want:   want{code: protocol.CodeForbidden, message: "no", close: protocol.CloseForbidden, attempts: 1, denied: true},
		},
		{
			name:   "denied without code or message",
			script: answer(200, `{"result":"deny"}`),
			want:   want{code: protocol.CodeForbidden, message: "the app backend denied this connect", close: protocol.CloseForbidden, attempts: 1, denied: true},
		},
		{
			name: "backend down",
			down: true,
			want: want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: -1},
		},
		{
			name:   "backend slower than Timeout: every attempt times out",
			script: hang,
			cfg:    webhook.Config{Timeout: 200 * time.Millisecond},
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: webhook.DefaultRetries + 1},
		},
		{
			name:        "HookTimeout cuts the retries short",
			script:      hang,
			hookTimeout: 300 * time.Millisecond,
			want:        want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: 1},
		},
		{
			name:   "503 is retried Retries times",
			script: answer(503, ""),
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: webhook.DefaultRetries + 1},
		},
		{
			name:   "503 with Retries 4",
			script: answer(503, ""),
			cfg:    webhook.Config{Retries: 4},
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: 5},
		},
		{
			name:   "503 with no retries",
			script: answer(503, ""),
			cfg:    webhook.Config{Retries: -1},
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: 1},
		},
		{
			name:   "429 is retried",
			script: answer(429, ""),
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: webhook.DefaultRetries + 1},
		},
		{
			name: "a retry after a 500 succeeds",
			script: func(_ context.Context, _ webhook.Request, attempt int) (int, string) {
				if attempt == 1 {
					return 500, ""
				}
				return 200, `{"result":"allow"}`
			},
			want: want{attempts: 2},
		},
		{
			name:   "400 is final",
			script: answer(400, `{"error":"what is this"}`),
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: 1},
		},
		{
			name:   "a redirect is not followed",
			script: answer(302, ""),
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: 1},
		},
		{
			name:   "malformed answer",
			script: answer(200, `allow`),
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: 1},
		},
		{
			name:   "unknown result",
			script: answer(200, `{"result":"maybe"}`),
			want:   want{code: protocol.CodeInternal, message: unavailable, close: protocol.CloseInternal, attempts: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, byEvent(nonNil(tc.script)))
			cfg := tc.cfg
			cfg.URL = b.srv.URL + "/herald"
			if tc.down {
				cfg.URL = deadURL(t)
			}
			h := newHooks(t, cfg)
			srv := node{connectHook: true, hookTimeout: tc.hookTimeout}.start(t, h)

			c := wstest.Dial(t, srv.URL)
			c.Send(map[string]any{"type": "auth", "id": "a1", "token": testserver.Token(t, "alice", "chat.>")})
			if tc.want.code == "" {
				ok := c.Expect(protocol.TypeAuthOK)
				checkConnectRequest(t, b, ok)
			} else {
				f := c.ExpectError(tc.want.code)
				if f.Message != tc.want.message || f.Ref != "a1" {
					t.Errorf("error message %q ref %q, want %q ref a1", f.Message, f.Ref, tc.want.message)
				}
				c.ExpectClose(tc.want.close, 5*time.Second)
			}
			if tc.want.attempts >= 0 {
				if got := len(b.requests(webhook.EventConnect)); got != tc.want.attempts {
					t.Errorf("backend saw %d connect attempts, want %d", got, tc.want.attempts)
				}
			}
			var allowed, denied, failed uint64
			switch {
			case tc.want.code == "":
				allowed = 1
			case tc.want.denied:
				denied = 1
			default:
				failed = 1
			}
			if h.Stats.DecisionsAllowed.Load() != allowed || h.Stats.DecisionsDenied.Load() != denied || h.Stats.DecisionsFailed.Load() != failed {
				t.Errorf("stats allowed %d denied %d failed %d, want %d %d %d", h.Stats.DecisionsAllowed.Load(),
					h.Stats.DecisionsDenied.Load(), h.Stats.DecisionsFailed.Load(), allowed, denied, failed)
			}
		})
	}
}

// checkConnectRequest checks what the backend was told about an accepted
// connection.
func checkConnectRequest(t *testing.T, b *backend, ok protocol.Frame) {
	t.Helper()
	reqs := b.requests(webhook.EventConnect)
	if len(reqs) == 0 {
		t.Fatal("the backend saw no connect")
	}
	r := reqs[len(reqs)-1].Req
	if r.Client.UserID != "alice" || r.Client.ConnectionID != ok.ConnectionID || r.Client.RemoteAddr == "" {
		t.Errorf("client %+v, want alice on connection %s with a remote address", r.Client, ok.ConnectionID)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(r.ID) {
		t.Errorf("delivery id %q, want 32 hex digits", r.ID)
	}
	if d := time.Since(time.UnixMilli(r.Timestamp)); d < 0 || d > time.Minute {
		t.Errorf("timestamp %d is %v ago", r.Timestamp, d)
	}
	if r.Channel != "" || r.Payload != nil || r.Code != 0 {
		t.Errorf("a connect carries no channel, payload or code: %+v", r)
	}
}

// nonNil keeps a nil script (a case with no backend) from panicking.
func nonNil(s script) script {
	if s == nil {
		return allowAll
	}
	return s
}
