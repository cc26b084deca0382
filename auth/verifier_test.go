package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/heraldrt/herald"
)

// TestAuthenticate is the security table: each case names a config, a
// token, and either the identity it proves or the exact error.
func TestAuthenticate(t *testing.T) {
	hour := time.Unix(now.Add(time.Hour).Unix(), 0)
	alice := herald.Identity{UserID: "alice", Channels: []string{"chat.>", "user.alice"}, ExpiresAt: hour}
	hs := func() Config { return Config{Secrets: [][]byte{secret}} }
	rs := func(kid string) func() Config {
		return func() Config { return Config{PublicKeys: []PublicKey{publicKey(t, &rsaKey().PublicKey, kid)}} }
	}
	otherSecret := []byte("another secret of enough length!")
	bigInfo := `{"name":"` + strings.Repeat("x", MaxInfoSize-len(`{"name":""}`)) + `"}`

	tests := []struct {
		name    string
		cfg     func() Config
		token   func(t *testing.T) string
		want    herald.Identity
		wantErr string // the exact message; "" for success
	}{
		// What verifies.
		{name: "valid HS256", cfg: hs,
			token: func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", goodClaims()) }, want: alice},
		{name: "valid HS256 under the second secret", cfg: func() Config { return Config{Secrets: [][]byte{otherSecret, secret}} },
			token: func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", goodClaims()) }, want: alice},
		{name: "valid RS256", cfg: rs(""),
			token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey(), "", goodClaims()) }, want: alice},
		{name: "valid RS256 by kid", cfg: rs("r1"),
			token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey(), "r1", goodClaims()) }, want: alice},
		{name: "valid RS256 without kid, key has one", cfg: rs("r1"),
			token: func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey(), "", goodClaims()) }, want: alice},
		{name: "valid ES256", cfg: func() Config { return Config{PublicKeys: []PublicKey{publicKey(t, &ecKey().PublicKey, "e1")}} },
			token: func(t *testing.T) string { return mint(t, jwa.ES256(), ecKey(), "e1", goodClaims()) }, want: alice},
		{name: "valid EdDSA", cfg: func() Config { return Config{PublicKeys: []PublicKey{publicKey(t, edKey().Public(), "d1")}} },
			token: func(t *testing.T) string { return mint(t, jwa.EdDSA(), edKey(), "d1", goodClaims()) }, want: alice},
		{name: "valid with every kind of key configured", cfg: func() Config {
			return Config{Secrets: [][]byte{secret}, PublicKeys: []PublicKey{
				publicKey(t, &rsaKey().PublicKey, "r1"), publicKey(t, &ecKey().PublicKey, "e1"), publicKey(t, edKey().Public(), "d1")}}
		}, token: func(t *testing.T) string { return mint(t, jwa.ES256(), ecKey(), "e1", goodClaims()) }, want: alice},
		{name: "no channels claim", cfg: hs,
			token: func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("channels", nil)) },
			want:  herald.Identity{UserID: "alice", ExpiresAt: hour}},
		{name: "channels null", cfg: hs,
			token: func(t *testing.T) string {
				return signRaw(t, jwa.HS256(), secret, "", fmt.Appendf(nil, `{"sub":"alice","exp":%d,"channels":null}`, hour.Unix()))
			},
			want: herald.Identity{UserID: "alice", ExpiresAt: hour}},
		{name: "empty channels", cfg: hs,
			token: func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("channels", []string{})) },
			want:  herald.Identity{UserID: "alice", Channels: []string{}, ExpiresAt: hour}},
		{name: "info kept as written, compacted", cfg: hs,
			token: func(t *testing.T) string {
				return signRaw(t, jwa.HS256(), secret, "", fmt.Appendf(nil, `{"sub":"alice","exp":%d,"info": { "name" : "Alice", "n": 12345678901234567890 }}`, hour.Unix()))
			},
			want: herald.Identity{UserID: "alice", ExpiresAt: hour, Info: json.RawMessage(`{"name":"Alice","n":12345678901234567890}`)}},
		{name: "info null", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("info", json.RawMessage("null")))
			},
			want: alice},
		{name: "info of exactly the limit", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("info", json.RawMessage(bigInfo)))
			},
			want: herald.Identity{UserID: "alice", Channels: alice.Channels, ExpiresAt: hour, Info: json.RawMessage(bigInfo)}},
		{name: "expired within leeway", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Leeway: time.Minute} },
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("exp", now.Add(-time.Second).Unix()))
			},
			want: herald.Identity{UserID: "alice", Channels: alice.Channels, ExpiresAt: time.Unix(now.Add(-time.Second).Unix(), 0)}},
		{name: "nbf within leeway", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Leeway: time.Minute} },
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("nbf", now.Add(30*time.Second).Unix()))
			},
			want: alice},
		{name: "nbf and iat in the past", cfg: hs,
			token: func(t *testing.T) string {
				c := with("nbf", now.Add(-time.Minute).Unix())
				c["iat"] = now.Add(-time.Minute).Unix()
				return mint(t, jwa.HS256(), secret, "", c)
			}, want: alice},
		{name: "issuer and audience match", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Issuer: "app", Audience: "herald"} },
			token: func(t *testing.T) string {
				c := with("iss", "app")
				c["aud"] = []string{"other", "herald"}
				return mint(t, jwa.HS256(), secret, "", c)
			}, want: alice},

		// Algorithms.
		{name: "alg none", cfg: hs,
			token: func(t *testing.T) string {
				return unsigned(t, map[string]string{"alg": "none", "typ": "JWT"}, goodClaims())
			},
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "alg none naming a configured kid", cfg: rs("r1"),
			token: func(t *testing.T) string {
				return unsigned(t, map[string]string{"alg": "none", "kid": "r1"}, goodClaims())
			},
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "no alg", cfg: hs,
			token:   func(t *testing.T) string { return unsigned(t, map[string]string{"typ": "JWT"}, goodClaims()) + "c2ln" },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "HS/RS confusion, RSA key only", cfg: rs(""),
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), pemOf(t, &rsaKey().PublicKey), "", goodClaims())
			},
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "HS/RS confusion, HS256 allowed, naming the RSA kid",
			cfg: func() Config {
				return Config{Secrets: [][]byte{secret}, PublicKeys: []PublicKey{publicKey(t, &rsaKey().PublicKey, "r1")}}
			},
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), pemOf(t, &rsaKey().PublicKey), "r1", goodClaims())
			},
			wantErr: "auth: invalid token: algorithm does not match key"},
		{name: "HS/RS confusion, HS256 allowed, no kid",
			cfg: func() Config {
				return Config{Secrets: [][]byte{secret}, PublicKeys: []PublicKey{publicKey(t, &rsaKey().PublicKey, "")}}
			},
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), pemOf(t, &rsaKey().PublicKey), "", goodClaims())
			},
			wantErr: "auth: invalid token: bad signature"},
		{name: "HS/RS confusion, HS256 listed but no secret",
			cfg: func() Config {
				return Config{PublicKeys: []PublicKey{publicKey(t, &rsaKey().PublicKey, "")}, Algorithms: []string{HS256, RS256}}
			},
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), pemOf(t, &rsaKey().PublicKey), "", goodClaims())
			},
			wantErr: "auth: invalid token: no key for this algorithm"},
		{name: "RS384 with an RS256-only list",
			cfg: func() Config {
				return Config{PublicKeys: []PublicKey{publicKey(t, &rsaKey().PublicKey, "")}, Algorithms: []string{RS256}}
			},
			token:   func(t *testing.T) string { return mint(t, jwa.RS384(), rsaKey(), "", goodClaims()) },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "PS256 with an RSA key", cfg: rs(""),
			token:   func(t *testing.T) string { return mint(t, jwa.PS256(), rsaKey(), "", goodClaims()) },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "HS512 with an HS256 secret", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS512(), secret, "", goodClaims()) },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "configured key's algorithm left off the list",
			cfg: func() Config {
				return Config{PublicKeys: []PublicKey{publicKey(t, &rsaKey().PublicKey, "r1"), publicKey(t, &ecKey().PublicKey, "e1")}, Algorithms: []string{RS256}}
			},
			token:   func(t *testing.T) string { return mint(t, jwa.ES256(), ecKey(), "e1", goodClaims()) },
			wantErr: "auth: invalid token: algorithm not allowed"},
		{name: "ES256 token naming the RSA kid",
			cfg: func() Config {
				return Config{PublicKeys: []PublicKey{publicKey(t, &rsaKey().PublicKey, "r1"), publicKey(t, &ecKey().PublicKey, "e1")}}
			},
			token:   func(t *testing.T) string { return mint(t, jwa.ES256(), ecKey(), "r1", goodClaims()) },
			wantErr: "auth: invalid token: algorithm does not match key"},

		// Keys and signatures.
		{name: "bad signature HS256", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), otherSecret, "", goodClaims()) },
			wantErr: "auth: invalid token: bad signature"},
		{name: "bad signature RS256, another RSA key", cfg: rs("r1"),
			token:   func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey2(), "r1", goodClaims()) },
			wantErr: "auth: invalid token: bad signature"},
		{name: "payload swapped after signing", cfg: hs,
			token: func(t *testing.T) string {
				good := strings.Split(mint(t, jwa.HS256(), secret, "", goodClaims()), ".")
				evil := strings.Split(mint(t, jwa.HS256(), otherSecret, "", with("channels", []string{">"})), ".")
				return good[0] + "." + evil[1] + "." + good[2]
			},
			wantErr: "auth: invalid token: bad signature"},
		{name: "key embedded in the header is not trusted", cfg: rs(""),
			token: func(t *testing.T) string {
				attacker, err := jwk.Import(&rsaKey2().PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				return signHeaders(t, jwa.RS256(), rsaKey2(), map[string]any{jws.JWKKey: attacker}, mustJSON(t, goodClaims()))
			},
			wantErr: "auth: invalid token: bad signature"},
		{name: "jku in the header is not followed", cfg: rs(""),
			token: func(t *testing.T) string {
				return signHeaders(t, jwa.RS256(), rsaKey2(), map[string]any{jws.JWKSetURLKey: "https://attacker.example/jwks"}, mustJSON(t, goodClaims()))
			},
			wantErr: "auth: invalid token: bad signature"},
		{name: "unknown critical header", cfg: hs,
			token: func(t *testing.T) string {
				return signHeaders(t, jwa.HS256(), secret, map[string]any{jws.CriticalKey: []string{"x-policy"}, "x-policy": 1}, mustJSON(t, goodClaims()))
			},
			wantErr: "auth: invalid token: malformed token"},
		{name: "unencoded payload (b64 false)", cfg: hs,
			token: func(t *testing.T) string {
				return signHeaders(t, jwa.HS256(), secret, map[string]any{jws.CriticalKey: []string{"b64"}, "b64": false}, mustJSON(t, with("channels", nil)))
			},
			wantErr: "auth: invalid token: malformed token"},
		{name: "unknown kid, static keys", cfg: rs("r1"),
			token:   func(t *testing.T) string { return mint(t, jwa.RS256(), rsaKey(), "r2", goodClaims()) },
			wantErr: "auth: invalid token: unknown key id"},

		// Time and audience.
		{name: "expired", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("exp", now.Add(-time.Second).Unix()))
			},
			wantErr: "herald: token expired"},
		{name: "expired beyond leeway", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Leeway: time.Minute} },
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("exp", now.Add(-2*time.Minute).Unix()))
			},
			wantErr: "herald: token expired"},
		{name: "not yet valid", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("nbf", now.Add(time.Minute).Unix()))
			},
			wantErr: "auth: invalid token: not valid yet"},
		{name: "issued in the future", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("iat", now.Add(time.Minute).Unix()))
			},
			wantErr: "auth: invalid token: issued in the future"},
		{name: "wrong issuer", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Issuer: "app"} },
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("iss", "evil")) },
			wantErr: "auth: invalid token: wrong issuer"},
		{name: "no issuer when one is required", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Issuer: "app"} },
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", goodClaims()) },
			wantErr: "auth: invalid token: wrong issuer"},
		{name: "wrong audience", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Audience: "herald"} },
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("aud", "other")) },
			wantErr: "auth: invalid token: wrong audience"},
		{name: "no audience when one is required", cfg: func() Config { return Config{Secrets: [][]byte{secret}, Audience: "herald"} },
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", goodClaims()) },
			wantErr: "auth: invalid token: wrong audience"},

		// Claims.
		{name: "no sub", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("sub", nil)) },
			wantErr: "auth: invalid token: sub and exp are required"},
		{name: "empty sub", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("sub", "")) },
			wantErr: "auth: invalid token: sub and exp are required"},
		{name: "no exp", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("exp", nil)) },
			wantErr: "auth: invalid token: sub and exp are required"},
		{name: "sub not a string", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("sub", 42)) },
			wantErr: "auth: invalid token: malformed token"},
		{name: "channels not a list", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("channels", "chat.>")) },
			wantErr: "auth: invalid token: channels claim must be a list of patterns"},
		{name: "channels holding a number", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("channels", []any{"chat.>", 7}))
			},
			wantErr: "auth: invalid token: channels claim must be a list of patterns"},
		{name: "channels holding an invalid pattern", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("channels", []string{"chat.>.x"}))
			},
			wantErr: `auth: invalid token: channels claim holds an invalid pattern "chat.>.x"`},
		{name: "info not an object", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", with("info", []string{"a"})) },
			wantErr: "auth: invalid token: info claim must be a JSON object"},
		{name: "info one byte too large", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("info", json.RawMessage(strings.Replace(bigInfo, `"x`, `"xx`, 1))))
			},
			wantErr: "auth: invalid token: info claim is larger than 1024 bytes"},
		{name: "info oversized", cfg: hs,
			token: func(t *testing.T) string {
				return mint(t, jwa.HS256(), secret, "", with("info", map[string]string{"bio": strings.Repeat("x", 4000)}))
			},
			wantErr: "auth: invalid token: info claim is larger than 1024 bytes"},

		// Shapes that are not a compact JWS.
		{name: "garbage", cfg: hs, token: func(*testing.T) string { return "not.a.token" },
			wantErr: "auth: invalid token: malformed token"},
		{name: "empty", cfg: hs, token: func(*testing.T) string { return "" },
			wantErr: "auth: invalid token: malformed token"},
		{name: "JSON serialization", cfg: hs,
			token: func(t *testing.T) string {
				parts := strings.Split(mint(t, jwa.HS256(), secret, "", goodClaims()), ".")
				return fmt.Sprintf(`{"payload":%q,"protected":%q,"signature":%q}`, parts[1], parts[0], parts[2])
			},
			wantErr: "auth: invalid token: malformed token"},
		{name: "five parts, as JWE", cfg: hs,
			token:   func(t *testing.T) string { return mint(t, jwa.HS256(), secret, "", goodClaims()) + ".x.y" },
			wantErr: "auth: invalid token: malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg()
			cfg.Clock = fixedClock{now}
			v, err := NewVerifier(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			got, err := v.Authenticate(context.Background(), tt.token(t))
			if tt.wantErr != "" {
				checkErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			checkIdentity(t, got, tt.want)
		})
	}
}

// checkErr asserts that err is the Verifier error with message want: one
// the hub can classify, and one that names no key or library internals.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	sentinel := ErrInvalidToken
	if want == ErrExpired.Error() {
		sentinel = ErrExpired
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("errors.Is(%v, %v) = false", err, sentinel)
	}
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err.Error(), want)
	}
}

func checkIdentity(t *testing.T, got, want herald.Identity) {
	t.Helper()
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("ExpiresAt %v, want %v", got.ExpiresAt, want.ExpiresAt)
	}
	got.ExpiresAt, want.ExpiresAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	rsa := func() PublicKey { return publicKey(t, &rsaKey().PublicKey, "r1") }
	tests := []struct {
		name string
		cfg  func() Config
		want string
	}{
		{"no keys", func() Config { return Config{} }, "auth: no keys configured"},
		{"short secret", func() Config { return Config{Secrets: [][]byte{[]byte("short")}} }, "auth: secret 0 is 5 bytes; HS256 needs at least 32"},
		{"zero public key", func() Config { return Config{PublicKeys: []PublicKey{{KeyID: "x"}}} }, "auth: public key 0 is empty"},
		{"duplicate kid", func() Config { return Config{PublicKeys: []PublicKey{rsa(), rsa()}} }, `auth: key id "r1" is given to two public keys`},
		{"alg none listed", func() Config { return Config{Secrets: [][]byte{secret}, Algorithms: []string{"none"}} }, `auth: algorithm "none" is not supported`},
		{"RS384 listed", func() Config { return Config{Secrets: [][]byte{secret}, Algorithms: []string{"RS384"}} }, `auth: algorithm "RS384" is not supported`},
		{"list fits no key", func() Config { return Config{Secrets: [][]byte{secret}, Algorithms: []string{RS256}} }, "auth: no configured key uses an allowed algorithm (RS256)"},
		{"negative leeway", func() Config { return Config{Secrets: [][]byte{secret}, Leeway: -time.Second} }, "auth: JWKSRefresh, JWKSMinRefreshInterval and Leeway must not be negative"},
		{"JWKS URL not http", func() Config { return Config{JWKSURL: "file:///etc/jwks.json"} }, `auth: JWKS URL "file:///etc/jwks.json" is not an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(context.Background(), tt.cfg())
			if err == nil {
				v.Close()
				t.Fatalf("NewVerifier succeeded, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestMintRoundTrip(t *testing.T) {
	tok, err := Mint(secret, "bob", []string{"chat.*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(context.Background(), Config{Secrets: [][]byte{secret}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "bob" || !reflect.DeepEqual(id.Channels, []string{"chat.*"}) || id.Info != nil {
		t.Fatalf("minted token gives %+v", id)
	}
	if _, err := Mint(secret, "bob", []string{"chat.>.x"}, time.Hour, time.Now()); err == nil {
		t.Fatal("Mint accepted an invalid pattern")
	}
}

// TestAuthenticateConcurrently runs mixed good and bad tokens through one
// Verifier from many goroutines; -race checks the shared state.
func TestAuthenticateConcurrently(t *testing.T) {
	v, err := NewVerifier(context.Background(), Config{
		Secrets:    [][]byte{secret},
		PublicKeys: []PublicKey{publicKey(t, edKey().Public(), "d1")},
		Issuer:     "app",
		Clock:      fixedClock{now},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	good := mint(t, jwa.EdDSA(), edKey(), "d1", with("iss", "app"))
	bad := mint(t, jwa.HS256(), secret, "", with("iss", "evil"))
	done := make(chan error)
	for range 8 {
		go func() {
			for range 50 {
				if _, err := v.Authenticate(context.Background(), good); err != nil {
					done <- err
					return
				}
				if _, err := v.Authenticate(context.Background(), bad); err == nil {
					done <- errors.New("bad token accepted")
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
