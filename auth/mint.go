package auth

import (
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/heraldrt/herald/protocol"
)

// Mint signs an HS256 token for sub, valid for ttl from now, granting
// channels. It is for development (`herald token`) and tests; production
// tokens come from the application's own issuer.
func Mint(secret []byte, sub string, channels []string, ttl time.Duration, now time.Time) (string, error) {
	for _, c := range channels {
		if !protocol.ValidPattern(c) {
			return "", fmt.Errorf("auth: invalid channel pattern %q", c)
		}
	}
	if channels == nil {
		channels = []string{}
	}
	tok, err := jwt.NewBuilder().
		Subject(sub).
		IssuedAt(now).
		Expiration(now.Add(ttl)).
		Claim(ChannelsClaim, channels).
		Build()
	if err != nil {
		return "", fmt.Errorf("auth: build token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), secret))
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return string(signed), nil
}
