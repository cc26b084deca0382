package webhook_test

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/webhook"
)

func TestVerify(t *testing.T) {
	secret := []byte("whsec-0123456789")
	body := []byte(`{"event":"connect","id":"x"}`)
	at := time.Unix(1711234567, 0)
	good := webhook.Sign(secret, body, at)
	other := webhook.Sign([]byte("another secret"), body, at)
	cases := []struct {
		name      string
		secret    []byte
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{name: "valid", header: good, now: at},
		{name: "valid 4 minutes later", header: good, now: at.Add(4 * time.Minute)},
		{name: "valid with the sender's clock a little ahead", header: good, now: at.Add(-time.Minute)},
		{name: "valid with spaces", header: "t=1711234567, v1=" + good[len("t=1711234567,v1="):], now: at},
		{name: "one of two v1 matches (secret rotation)", header: other + ",v1=" + good[len("t=1711234567,v1="):], now: at},
		{name: "tampered body", header: good, body: []byte(`{"event":"connect","id":"y"}`), now: at, want: webhook.ErrBadSignature},
		{name: "body with a byte more", header: good, body: append([]byte(`{"event":"connect","id":"x"}`), ' '), now: at, want: webhook.ErrBadSignature},
		{name: "wrong secret", header: other, now: at, want: webhook.ErrBadSignature},
		{name: "timestamp changed", header: "t=1711234568" + good[len("t=1711234567"):], now: at, want: webhook.ErrBadSignature},
		{name: "stale: 6 minutes old", header: good, now: at.Add(6 * time.Minute), want: webhook.ErrStaleSignature},
		{name: "stale: from the future", header: good, now: at.Add(-6 * time.Minute), want: webhook.ErrStaleSignature},
		{name: "stale under a tighter tolerance", header: good, now: at.Add(2 * time.Minute), tolerance: time.Minute, want: webhook.ErrStaleSignature},
		{name: "valid under a looser tolerance", header: good, now: at.Add(time.Hour), tolerance: 2 * time.Hour},
		{name: "empty header", header: "", now: at, want: webhook.ErrNoSignature},
		{name: "no t", header: "v1=" + good[len("t=1711234567,v1="):], now: at, want: webhook.ErrNoSignature},
		{name: "no v1", header: "t=1711234567", now: at, want: webhook.ErrNoSignature},
		{name: "t not a number", header: "t=soon,v1=" + good[len("t=1711234567,v1="):], now: at, want: webhook.ErrNoSignature},
		{name: "v1 not hex", header: "t=1711234567,v1=zz", now: at, want: webhook.ErrNoSignature},
		{name: "garbage", header: "sha256=abc", now: at, want: webhook.ErrNoSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, b := secret, body
			if tc.secret != nil {
				s = tc.secret
			}
			if tc.body != nil {
				b = tc.body
			}
			if err := webhook.Verify(s, tc.header, b, tc.now, tc.tolerance); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSignedRequests drives every event through a node and checks that
// each request the backend got carries a signature that verifies over its
// exact body, and none over a changed body or long after.
func TestSignedRequests(t *testing.T) {
	b := newBackend(t, allowAll)
	h := newHooks(t, webhook.Config{URL: b.srv.URL})
	srv := node{connectHook: true, namespaces: map[string]hub.Namespace{
		"room": {SubscribeHook: true, PublishHook: true},
	}}.start(t, h)

	c := wstest.Auth(t, srv.URL, testserver.Token(t, "alice"))
	c.Send(map[string]any{"type": "subscribe", "channel": "room.1"})
	c.Expect(protocol.TypeSubscribed)
	c.Send(map[string]any{"type": "publish", "id": "p1", "channel": "room.2", "payload": "hi"})
	c.Expect(protocol.TypeAck)
	c.Send(map[string]any{"type": "unsubscribe", "channel": "room.1"})
	c.Expect(protocol.TypeUnsubscribed)
	c.Drop()
	waitFor(t, "the disconnect", func() bool { return b.answeredCount(webhook.EventDisconnect) == 1 })

	form := regexp.MustCompile(`^t=[0-9]+,v1=[0-9a-f]{64}$`)
	for _, event := range []string{webhook.EventConnect, webhook.EventSubscribe, webhook.EventPublish, webhook.EventUnsubscribe, webhook.EventDisconnect} {
		reqs := b.requests(event)
		if len(reqs) != 1 {
			t.Errorf("%d %s requests, want 1", len(reqs), event)
			continue
		}
		r := reqs[0]
		header := r.Header.Get(webhook.SignatureHeader)
		if !form.MatchString(header) {
			t.Errorf("%s: Herald-Signature %q", event, header)
		}
		now := time.Now()
		if err := webhook.Verify(testSecret, header, r.Body, now, 0); err != nil {
			t.Errorf("%s: %v", event, err)
		}
		tampered := append([]byte(nil), r.Body...)
		tampered[len(tampered)-2] ^= 1
		if err := webhook.Verify(testSecret, header, tampered, now, 0); !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("%s, tampered: %v, want ErrBadSignature", event, err)
		}
		if err := webhook.Verify(testSecret, header, r.Body, now.Add(webhook.DefaultTolerance+time.Minute), 0); !errors.Is(err, webhook.ErrStaleSignature) {
			t.Errorf("%s, replayed later: %v, want ErrStaleSignature", event, err)
		}
	}
}

// fixedClock is a clock stopped at one time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func TestSigningOptions(t *testing.T) {
	cases := []struct {
		name   string
		cfg    webhook.Config
		header bool
		want   error
	}{
		{name: "no Secret: unsigned", cfg: webhook.Config{Secret: []byte{}}, want: webhook.ErrNoSignature},
		{name: "another secret", cfg: webhook.Config{Secret: []byte("not the backend's")}, header: true, want: webhook.ErrBadSignature},
		{name: "signed an hour ago: a replay", cfg: webhook.Config{Clock: fixedClock(time.Now().Add(-time.Hour))}, header: true, want: webhook.ErrStaleSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, answer(200, ""))
			b.badSignatures = true
			cfg := tc.cfg
			cfg.URL = b.srv.URL
			h := newHooks(t, cfg)
			h.Disconnected(hub.ClientInfo{ConnectionID: "c1", UserID: "alice"}, protocol.CloseNormal)
			waitFor(t, "the disconnect", func() bool { return h.Stats.NotificationsSent.Load() == 1 })
			r := b.requests(webhook.EventDisconnect)[0]
			if has := r.Header.Get(webhook.SignatureHeader) != ""; has != tc.header {
				t.Errorf("signature header present: %v, want %v", has, tc.header)
			}
			if !errors.Is(r.SigErr, tc.want) {
				t.Errorf("backend's Verify: %v, want %v", r.SigErr, tc.want)
			}
		})
	}
}
