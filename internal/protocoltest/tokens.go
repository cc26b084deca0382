package protocoltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
)

const (
	tokenIssuer   = "https://issuer.test"
	tokenAudience = "herald"
)

// jwksServer serves a JSON Web Key Set that a test replaces, as an
// identity provider does when it rotates keys.
type jwksServer struct {
	*httptest.Server
	mu  sync.Mutex
	set []byte // guarded by mu
}

func newJWKSServer(t *testing.T) *jwksServer {
	j := &jwksServer{}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j.mu.Lock()
		defer j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(j.set)
	}))
	t.Cleanup(j.Close)
	return j
}

// publish makes the set hold exactly these public keys, by kid.
func (j *jwksServer) publish(t *testing.T, keys map[string]any) {
	t.Helper()
	set := jwk.NewSet()
	for kid, pub := range keys {
		k, err := jwk.Import(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.set = b
	j.mu.Unlock()
}

// signed signs claims with alg and key, naming kid when it is set.
func signed(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	if kid != "" {
		if err := h.Set(jws.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// unsignedToken builds an alg=none token by hand; libraries refuse to.
func unsignedToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(p) + "."
}

// claims are valid claims for sub, with changes: a nil value removes the
// claim.
func claims(sub string, changes map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"sub": sub, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"iss": tokenIssuer, "aud": tokenAudience, "channels": []string{"chat.>"},
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// runTokens is the token half of the security suite: each way a token
// can be wrong gets error unauthorized with its reason and close 4001,
// over the transport, while a connection that is already in goes on
// unaffected; and a JWKS rotation is followed by kid.
func runTokens(t *testing.T, tr Transport) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecOld, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecNew, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	rsaPub, err := auth.ParsePublicKeyPEM(rsaPEM, "r1")
	if err != nil {
		t.Fatal(err)
	}
	jwks := newJWKSServer(t)
	jwks.publish(t, map[string]any{"e1": &ecOld.PublicKey})

	srv := testserver.Start(t, testserver.Options{Auth: &auth.Config{
		Secrets:    [][]byte{testserver.Secret},
		PublicKeys: []auth.PublicKey{rsaPub},
		JWKSURL:    jwks.URL,
		// Each unknown kid may fetch the set again at once, so that the
		// rotation below needs no waiting.
		JWKSMinRefreshInterval: time.Millisecond,
		Issuer:                 tokenIssuer,
		Audience:               tokenAudience,
	}})
	hs := func(c map[string]any) func() string {
		return func() string { return signed(t, jwa.HS256(), testserver.Secret, "", c) }
	}
	bystander := dial(t, tr, srv)
	bystander.send(map[string]any{"type": "auth", "token": hs(claims("bystander", nil))()})
	bystander.expect(protocol.TypeAuthOK)
	bystander.subscribe("chat.bystander", nil)
	in := time.Now().Add(time.Hour).Unix()
	ago := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name  string
		token func() string
		// reason is the end of the error's message; empty expects auth_ok.
		reason string
		// before runs first, on the JWKS.
		before func()
	}{
		{name: "HS256", token: hs(claims("alice", nil))},
		{name: "RS256 by kid", token: func() string { return signed(t, jwa.RS256(), rsaKey, "r1", claims("alice", nil)) }},
		{name: "ES256 from the JWKS", token: func() string { return signed(t, jwa.ES256(), ecOld, "e1", claims("alice", nil)) }},
		{name: "alg none", token: func() string { return unsignedToken(t, claims("alice", nil)) }, reason: "algorithm not allowed"},
		{name: "HS256 signed with the RSA public key (key confusion)",
			token:  func() string { return signed(t, jwa.HS256(), rsaPEM, "r1", claims("alice", nil)) },
			reason: "algorithm does not match key"},
		{name: "HS256 signed with the RSA public key, no kid",
			token:  func() string { return signed(t, jwa.HS256(), rsaPEM, "", claims("alice", nil)) },
			reason: "bad signature"},
		{name: "expired", token: hs(claims("alice", map[string]any{"exp": ago})), reason: "token expired"},
		{name: "no exp", token: hs(claims("alice", map[string]any{"exp": nil})), reason: "sub and exp are required"},
		{name: "not yet valid", token: hs(claims("alice", map[string]any{"nbf": in})), reason: "not valid yet"},
		{name: "wrong issuer", token: hs(claims("alice", map[string]any{"iss": "https://evil.test"})), reason: "wrong issuer"},
		{name: "no issuer", token: hs(claims("alice", map[string]any{"iss": nil})), reason: "wrong issuer"},
		{name: "wrong audience", token: hs(claims("alice", map[string]any{"aud": "other"})), reason: "wrong audience"},
		{name: "bad signature", token: func() string {
			tok := signed(t, jwa.HS256(), testserver.Secret, "", claims("alice", nil))
			parts := strings.Split(tok, ".")
			forged, _ := json.Marshal(claims("alice", map[string]any{"channels": []string{">"}}))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
		}, reason: "bad signature"},
		{name: "another HS256 secret", token: func() string {
			return signed(t, jwa.HS256(), []byte("another-secret-0123456789abcdefgh"), "", claims("alice", nil))
		}, reason: "bad signature"},
		{name: "unknown kid", token: func() string { return signed(t, jwa.ES256(), ecNew, "e2", claims("alice", nil)) }, reason: "unknown key id"},
		{name: "JWKS rotated: the new kid is fetched", token: func() string { return signed(t, jwa.ES256(), ecNew, "e2", claims("alice", nil)) },
			before: func() { jwks.publish(t, map[string]any{"e2": &ecNew.PublicKey}) }},
		{name: "JWKS rotated: the withdrawn kid is refused", token: func() string { return signed(t, jwa.ES256(), ecOld, "e1", claims("alice", nil)) },
			reason: "unknown key id"},
		{name: "malformed", token: func() string { return "not.a.jwt" }, reason: "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			c := dial(t, tr, srv)
			c.send(map[string]any{"type": "auth", "id": "a", "token": tt.token()})
			if tt.reason == "" {
				if f := c.read(); f.Type != protocol.TypeAuthOK || f.UserID != "alice" {
					t.Fatalf("got %s %s (%s), want auth_ok for alice", f.Type, f.Code, f.Message)
				}
				c.usable()
			} else {
				frames := c.expectClose(protocol.CloseAuthFailed, timeout)
				if len(frames) != 1 || frames[0].Type != protocol.TypeError || frames[0].Code != protocol.CodeUnauthorized ||
					frames[0].Ref != "a" || !strings.HasSuffix(frames[0].Message, tt.reason) {
					t.Fatalf("before close 4001 got %+v, want one error unauthorized ending in %q", frames, tt.reason)
				}
			}
			bystander.usable()
		})
	}
}
