package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// fixedClock always tells the same time.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// movableClock is a clock a test moves forward.
type movableClock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *movableClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Test keys, made once: RSA key generation is slow under -race.
var (
	rsaKey  = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	rsaKey2 = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	ecKey   = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
	edKey   = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return must(k, err)
	})
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// pemOf encodes a public key as a PKIX "PUBLIC KEY" PEM block.
func pemOf(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// publicKey parses pub's PEM into a PublicKey with kid.
func publicKey(t *testing.T, pub any, kid string) PublicKey {
	t.Helper()
	k, err := ParsePublicKeyPEM(pemOf(t, pub), kid)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signRaw signs payload exactly as given with alg and key (a private key
// or an HMAC secret), naming kid in the header when it is set.
func signRaw(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, payload []byte) string {
	t.Helper()
	var hdr map[string]any
	if kid != "" {
		hdr = map[string]any{jws.KeyIDKey: kid}
	}
	return signHeaders(t, alg, key, hdr, payload)
}

// signHeaders signs payload with alg and key, adding hdr to the
// protected header.
func signHeaders(t *testing.T, alg jwa.SignatureAlgorithm, key any, hdr map[string]any, payload []byte) string {
	t.Helper()
	h := jws.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// mint signs claims with alg and key; it mints RS256, ES256 and EdDSA
// tokens as well as HS256 ones.
func mint(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, alg, key, kid, payload)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unsigned builds an alg=none token by hand; libraries refuse to.
func unsigned(t *testing.T, header map[string]string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

// goodClaims are valid claims at now.
func goodClaims() map[string]any {
	return map[string]any{"sub": "alice", "exp": now.Add(time.Hour).Unix(), "channels": []string{"chat.>", "user.alice"}}
}

// with returns goodClaims with k set to v, or removed when v is nil.
func with(k string, v any) map[string]any {
	c := maps.Clone(goodClaims())
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}
