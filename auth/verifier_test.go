package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/heraldrt/herald"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// sign builds a token from claims with the given algorithm and key.
func sign(t *testing.T, alg jwa.SignatureAlgorithm, key []byte, claims map[string]any) string {
	t.Helper()
	b := jwt.NewBuilder()
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	out, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// unsigned builds an alg=none token by hand; libraries refuse to.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "."
}

func TestAuthenticate(t *testing.T) {
	good := map[string]any{"sub": "alice", "exp": now.Add(time.Hour).Unix(), "channels": []string{"chat.>", "user.alice"}}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name    string
		cfg     Config
		token   func(t *testing.T) string
		want    herald.Identity
		wantErr error
	}{
		{"valid", Config{}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, good) },
			herald.Identity{UserID: "alice", Channels: []string{"chat.>", "user.alice"}, ExpiresAt: time.Unix(now.Add(time.Hour).Unix(), 0)}, nil},
		{"no channels claim", Config{}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("channels", nil)) },
			herald.Identity{UserID: "alice", ExpiresAt: time.Unix(now.Add(time.Hour).Unix(), 0)}, nil},
		{"expired", Config{}, func(t *testing.T) string {
			return sign(t, jwa.HS256(), secret, with("exp", now.Add(-time.Second).Unix()))
		}, herald.Identity{}, ErrExpired},
		{"expired within leeway", Config{Leeway: time.Minute}, func(t *testing.T) string {
			return sign(t, jwa.HS256(), secret, with("exp", now.Add(-time.Second).Unix()))
		},
			herald.Identity{UserID: "alice", Channels: []string{"chat.>", "user.alice"}, ExpiresAt: time.Unix(now.Add(-time.Second).Unix(), 0)}, nil},
		{"not yet valid", Config{}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("nbf", now.Add(time.Hour).Unix())) }, herald.Identity{}, ErrInvalidToken},
		{"no exp", Config{}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("exp", nil)) }, herald.Identity{}, ErrInvalidToken},
		{"no sub", Config{}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("sub", nil)) }, herald.Identity{}, ErrInvalidToken},
		{"bad signature", Config{}, func(t *testing.T) string {
			return sign(t, jwa.HS256(), []byte("another secret of enough length!"), good)
		}, herald.Identity{}, ErrInvalidToken},
		{"alg none", Config{}, func(t *testing.T) string { return unsigned(t, good) }, herald.Identity{}, ErrInvalidToken},
		{"other HMAC algorithm", Config{}, func(t *testing.T) string { return sign(t, jwa.HS512(), secret, good) }, herald.Identity{}, ErrInvalidToken},
		{"garbage", Config{}, func(*testing.T) string { return "not.a.token" }, herald.Identity{}, ErrInvalidToken},
		{"channels not a list", Config{}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("channels", "chat.>")) }, herald.Identity{}, ErrInvalidToken},
		{"invalid pattern", Config{}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("channels", []string{"chat.>.x"})) }, herald.Identity{}, ErrInvalidToken},
		{"issuer required and matching", Config{Issuer: "app"}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("iss", "app")) },
			herald.Identity{UserID: "alice", Channels: []string{"chat.>", "user.alice"}, ExpiresAt: time.Unix(now.Add(time.Hour).Unix(), 0)}, nil},
		{"wrong issuer", Config{Issuer: "app"}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("iss", "evil")) }, herald.Identity{}, ErrInvalidToken},
		{"wrong audience", Config{Audience: "herald"}, func(t *testing.T) string { return sign(t, jwa.HS256(), secret, with("aud", "other")) }, herald.Identity{}, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Secret = secret
			cfg.Clock = fixedClock{now}
			v, err := NewVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Authenticate(context.Background(), tt.token(t))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.ExpiresAt.Equal(tt.want.ExpiresAt) {
				t.Errorf("ExpiresAt %v, want %v", got.ExpiresAt, tt.want.ExpiresAt)
			}
			got.ExpiresAt, tt.want.ExpiresAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMintRoundTrip(t *testing.T) {
	tok, err := Mint(secret, "bob", []string{"chat.*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(Config{Secret: secret})
	id, err := v.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "bob" || !reflect.DeepEqual(id.Channels, []string{"chat.*"}) {
		t.Fatalf("minted token gives %+v", id)
	}
	if _, err := Mint(secret, "bob", []string{"chat.>.x"}, time.Hour, time.Now()); err == nil {
		t.Fatal("Mint accepted an invalid pattern")
	}
}

func TestNullChannelsClaim(t *testing.T) {
	v, _ := NewVerifier(Config{Secret: secret, Clock: fixedClock{now}})
	tok := sign(t, jwa.HS256(), secret, map[string]any{"sub": "a", "exp": now.Add(time.Hour).Unix(), "channels": nil})
	id, err := v.Authenticate(context.Background(), tok)
	if err != nil || len(id.Channels) != 0 {
		t.Fatalf("channels: null gives %+v, %v; want no channels", id, err)
	}
}
