package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/heraldrt/herald"
)

// jwksServer is a real HTTP server serving a JWKS that a test changes.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64
	status   atomic.Int64 // 0 means 200
	mu       sync.Mutex
	body     []byte // guarded by mu
}

// jwkSpec describes one JWKS entry.
type jwkSpec struct {
	kid string
	key any    // public key, or []byte for a symmetric one
	alg string // "alg" member, if any
	use string // "use" member, if any
}

func newJWKSServer(t *testing.T, keys ...jwkSpec) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if code := s.status.Load(); code != 0 {
			http.Error(w, "down", int(code))
			return
		}
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes the server answer with a JWKS of keys from now on.
func (s *jwksServer) serve(t *testing.T, keys ...jwkSpec) {
	t.Helper()
	set := jwk.NewSet()
	for _, spec := range keys {
		k, err := jwk.Import(spec.key)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{jwk.KeyIDKey: spec.kid, jwk.AlgorithmKey: spec.alg, jwk.KeyUsageKey: spec.use} {
			if v == "" {
				continue
			}
			if err := k.Set(name, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// newJWKSVerifier returns a Verifier on s's JWKS, closed at the end of
// the test.
func newJWKSVerifier(t *testing.T, s *jwksServer, cfg Config) *Verifier {
	t.Helper()
	cfg.JWKSURL = s.URL
	if cfg.Clock == nil {
		cfg.Clock = fixedClock{now}
	}
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Error(err)
		}
	})
	return v
}

// waitFor polls cond until it holds or the deadline passes. It asserts no
// duration: it only bounds how long a broken build hangs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJWKS(t *testing.T) {
	rsaPub, ecPub, edPub := &rsaKey().PublicKey, &ecKey().PublicKey, edKey().Public()
	srv := newJWKSServer(t,
		jwkSpec{kid: "A", key: rsaPub, alg: RS256},
		jwkSpec{kid: "E", key: ecPub}, // no alg: inferred from the key
		jwkSpec{kid: "D", key: edPub, alg: EdDSA, use: "sig"},
		jwkSpec{kid: "S", key: secret, alg: HS256},               // symmetric: never taken from a JWKS
		jwkSpec{kid: "X", key: &rsaKey2().PublicKey, use: "enc"}, // not for signatures
		jwkSpec{kid: "M", key: &rsaKey2().PublicKey, alg: "PS256"},
	)
	alice := herald.Identity{UserID: "alice", Channels: []string{"chat.>", "user.alice"}, ExpiresAt: time.Unix(now.Add(time.Hour).Unix(), 0)}
	tests := []struct {
		name      string
		cfg       Config
		token     func(t *testing.T) string
		wantErr   string
		refreshes int64 // fetches the token causes
	}{
		{name: "RS256 by kid", token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey(), "A", goodClaims()) }},
		{name: "ES256 by kid, alg inferred", token: func(t *testing.T) string { return mint(t, jwa.ES256(), ecKey(), "E", goodClaims()) }},
		{name: "EdDSA by kid", token: func(t *testing.T) string { return mint(t, jwa.EdDSA(), edKey(), "D", goodClaims()) }},
		{name: "RS256 without kid", token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey(), "", goodClaims()) }},
		{name: "unknown kid", token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey(), "nope", goodClaims()) },
			wantErr: "auth: invalid token: unknown key id", refreshes: 1},
		{name: "symmetric key in the JWKS", token: func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "S", goodClaims()) },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "symmetric key in the JWKS, HS256 listed", cfg: Config{Algorithms: []string{HS256, RS256}},
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "S", goodClaims()) },
			wantErr: "auth: invalid token: unknown key id"},
		{name: "HS/RS confusion with a JWKS key", token: func(t *testing.T) string { return mint(t, jwa.HS256(), pemOf(t, rsaPub), "A", goodClaims()) },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "HS/RS confusion with a JWKS key, HS256 listed", cfg: Config{Secrets: [][]byte{secret}, Algorithms: []string{HS256, RS256}},
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), pemOf(t, rsaPub), "A", goodClaims()) },
			wantErr: "auth: invalid token: algorithm does not match key"},
		{name: "encryption key", token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey2(), "X", goodClaims()) },
			wantErr: "auth: invalid token: unknown key id", refreshes: 1},
		{name: "key whose alg is not supported", token: func(t *testing.T) string { return mint(t, jwa.PS256(), rsaKey2(), "M", goodClaims()) },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "ES256 token naming the RSA kid", token: func(t *testing.T) string { return mint(t, jwa.ES256(), ecKey(), "A", goodClaims()) },
			wantErr: "auth: invalid token: algorithm does not match key"},
		{name: "bad signature", token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey2(), "A", goodClaims()) },
			wantErr: "auth: invalid token: bad signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newJWKSVerifier(t, srv, tt.cfg)
			before := srv.requests.Load()
			got, err := v.Authenticate(context.Background(), tt.token(t))
			if n := srv.requests.Load() - before; n != tt.refreshes {
				t.Errorf("%d JWKS fetches, want %d", n, tt.refreshes)
			}
			if tt.wantErr != "" {
				checkErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			checkIdentity(t, got, alice)
		})
	}
}

// TestJWKSRotation rotates keys on a live JWKS: a new key is taken up on
// first sight of its kid, and a withdrawn key is dropped at the next
// periodic refresh.
func TestJWKSRotation(t *testing.T) {
	keyA := jwkSpec{kid: "A", key: &rsaKey().PublicKey, alg: RS256}
	keyB := jwkSpec{kid: "B", key: edKey().Public(), alg: EdDSA}
	srv := newJWKSServer(t, keyA)
	// The fixed clock lets one unknown-kid refresh through and no other,
	// so only the periodic refresh can drop A.
	v := newJWKSVerifier(t, srv, Config{JWKSRefresh: time.Second})
	tokenA := mint(t, jwa.RS256(), rsaKey(), "A", goodClaims())
	tokenB := mint(t, jwa.EdDSA(), edKey(), "B", goodClaims())
	ctx := context.Background()

	if _, err := v.Authenticate(ctx, tokenA); err != nil {
		t.Fatalf("kid A before rotation: %v", err)
	}

	srv.serve(t, keyA, keyB) // the issuer publishes B, then signs with it
	if _, err := v.Authenticate(ctx, tokenB); err != nil {
		t.Fatalf("kid B, new in the JWKS: %v", err)
	}
	if _, err := v.Authenticate(ctx, tokenA); err != nil {
		t.Fatalf("kid A while still published: %v", err)
	}

	srv.serve(t, keyB) // the issuer withdraws A
	fetches := srv.requests.Load()
	waitFor(t, "kid A to be dropped", func() bool {
		_, err := v.Authenticate(ctx, tokenA)
		return err != nil
	})
	_, err := v.Authenticate(ctx, tokenA)
	checkErr(t, err, "auth: invalid token: unknown key id")
	if srv.requests.Load() == fetches {
		t.Error("kid A was dropped without a fetch")
	}
	if _, err := v.Authenticate(ctx, tokenB); err != nil {
		t.Fatalf("kid B after rotation: %v", err)
	}
}

// TestJWKSUnknownKidRateLimit sprays made-up kids and counts the fetches
// the JWKS server sees.
func TestJWKSUnknownKidRateLimit(t *testing.T) {
	srv := newJWKSServer(t, jwkSpec{kid: "A", key: &rsaKey().PublicKey})
	clock := &movableClock{t: now}
	// An hour between periodic refreshes keeps them out of the count.
	v := newJWKSVerifier(t, srv, Config{JWKSRefresh: time.Hour, JWKSMinRefreshInterval: 30 * time.Second, Clock: clock})
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d fetches at startup, want 1", n)
	}
	spray := func(t *testing.T, concurrent bool) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range 50 {
			tok := mint(t, jwa.RS256(), rsaKey(), fmt.Sprintf("made-up-%d", i), goodClaims())
			check := func() {
				_, err := v.Authenticate(context.Background(), tok)
				if err == nil || err.Error() != "auth: invalid token: unknown key id" {
					t.Errorf("made-up kid: err = %v", err)
				}
			}
			if concurrent {
				wg.Go(check)
			} else {
				check()
			}
		}
		wg.Wait()
	}
	for _, step := range []struct {
		name       string
		advance    time.Duration
		concurrent bool
		want       int64 // total fetches after the step
	}{
		{"50 concurrent unknown kids", 0, true, 2},
		{"50 more at once, within the interval", 0, false, 2},
		{"50 more just before the interval ends", 29 * time.Second, true, 2},
		{"50 more after the interval", 2 * time.Second, true, 3},
	} {
		t.Run(step.name, func(t *testing.T) {
			clock.Advance(step.advance)
			spray(t, step.concurrent)
			if n := srv.requests.Load(); n != step.want {
				t.Fatalf("%d fetches in all, want %d", n, step.want)
			}
		})
	}

	t.Run("after Close", func(t *testing.T) {
		clock.Advance(time.Minute)
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		if err := v.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		before := srv.requests.Load()
		tok := mint(t, jwa.RS256(), rsaKey(), "after-close", goodClaims())
		_, err := v.Authenticate(context.Background(), tok)
		checkErr(t, err, "auth: invalid token: unknown key id")
		if _, err := v.Authenticate(context.Background(), mint(t, jwa.RS256(), rsaKey(), "A", goodClaims())); err != nil {
			t.Fatalf("kid A after Close: %v", err)
		}
		if n := srv.requests.Load() - before; n != 0 {
			t.Fatalf("%d fetches after Close", n)
		}
	})
}

func TestJWKSDownAtStartup(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name  string
		setup func(t *testing.T) (url string)
		ctx   func() (context.Context, context.CancelFunc)
		want  []string // substrings of the error
	}{
		{"503", func(t *testing.T) string {
			s := newJWKSServer(t)
			s.status.Store(http.StatusServiceUnavailable)
			return s.URL
		}, nil, []string{"auth: fetch JWKS from http://", "status code=503"}},
		{"connection refused", func(*testing.T) string { return closed.URL },
			nil, []string{"auth: fetch JWKS from " + closed.URL, "connection refused"}},
		{"not a JWKS", func(t *testing.T) string {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }))
			t.Cleanup(s.Close)
			return s.URL
		}, nil, []string{"auth: fetch JWKS from http://", "failed to parse JWK set"}},
		{"no usable key", func(t *testing.T) string {
			return newJWKSServer(t, jwkSpec{kid: "S", key: secret}).URL
		}, nil, []string{"auth: the JWKS at http://", "holds no usable signing key"}},
		{"hangs past the startup deadline", func(t *testing.T) string {
			s := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
			t.Cleanup(s.Close)
			return s.URL
		}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		},
			[]string{"auth: fetch JWKS from http://", "context deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			v, err := NewVerifier(ctx, Config{JWKSURL: tt.setup(t)})
			if err == nil {
				v.Close()
				t.Fatal("NewVerifier succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestJWKSDownLater takes the JWKS server down after startup: the keys
// fetched before keep working, and the failures are logged.
func TestJWKSDownLater(t *testing.T) {
	srv := newJWKSServer(t, jwkSpec{kid: "A", key: &rsaKey().PublicKey, alg: RS256})
	var logs syncBuffer
	v := newJWKSVerifier(t, srv, Config{
		JWKSRefresh: time.Second,
		Logger:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	tokenA := mint(t, jwa.RS256(), rsaKey(), "A", goodClaims())
	ctx := context.Background()

	t.Run("answering 503", func(t *testing.T) {
		srv.status.Store(http.StatusServiceUnavailable)
		before := srv.requests.Load()
		waitFor(t, "a periodic refresh to fail", func() bool {
			return srv.requests.Load() > before && strings.Contains(logs.String(), "JWKS refresh failed")
		})
		if _, err := v.Authenticate(ctx, tokenA); err != nil {
			t.Fatalf("kid A with the JWKS answering 503: %v", err)
		}
		_, err := v.Authenticate(ctx, mint(t, jwa.RS256(), rsaKey(), "new", goodClaims()))
		checkErr(t, err, "auth: invalid token: unknown key id")
	})
	t.Run("gone", func(t *testing.T) {
		srv.Close()
		if _, err := v.Authenticate(ctx, tokenA); err != nil {
			t.Fatalf("kid A with the JWKS server gone: %v", err)
		}
	})
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
