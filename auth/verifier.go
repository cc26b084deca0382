package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// ChannelsClaim is the private claim that lists a token's channel patterns.
const ChannelsClaim = "channels"

// Config configures a Verifier. Zero values are the documented defaults.
type Config struct {
	// Secret is the HS256 key. Required.
	Secret []byte
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audience, when set, must be among the token's "aud".
	Audience string
	// Leeway tolerates clock skew on exp, nbf and iat. Zero means none.
	Leeway time.Duration
	// Clock tells the time. Nil means the system clock.
	Clock herald.Clock
}

// Verifier checks HS256 tokens. Only HS256 is accepted: a token signed
// with any other algorithm, or with "none", is rejected.
type Verifier struct {
	cfg Config
}

// Errors a Verifier returns, wrapped with detail.
var (
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpired is herald.ErrTokenExpired, so that the hub can tell it.
	ErrExpired = herald.ErrTokenExpired
)

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("auth: a secret is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = herald.SystemClock{}
	}
	return &Verifier{cfg: cfg}, nil
}

// Authenticate implements herald.Authenticator.
func (v *Verifier) Authenticate(_ context.Context, token string) (herald.Identity, error) {
	opts := []jwt.ParseOption{
		jwt.WithKey(jwa.HS256(), v.cfg.Secret),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(v.cfg.Clock.Now)),
		jwt.WithAcceptableSkew(v.cfg.Leeway),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	tok, err := jwt.Parse([]byte(token), opts...)
	if err != nil {
		return herald.Identity{}, classify(err)
	}
	sub, _ := tok.Subject()
	exp, _ := tok.Expiration()
	if sub == "" {
		return herald.Identity{}, fmt.Errorf("%w: empty sub", ErrInvalidToken)
	}
	channels, err := channelsOf(tok)
	if err != nil {
		return herald.Identity{}, err
	}
	return herald.Identity{UserID: sub, Channels: channels, ExpiresAt: exp}, nil
}

func classify(err error) error {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return ErrExpired
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return fmt.Errorf("%w: not valid yet", ErrInvalidToken)
	case errors.Is(err, jwt.InvalidIssuerError()):
		return fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	case errors.Is(err, jwt.InvalidAudienceError()):
		return fmt.Errorf("%w: wrong audience", ErrInvalidToken)
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return fmt.Errorf("%w: sub and exp are required", ErrInvalidToken)
	default:
		// Parse errors carry library detail that helps nobody on the
		// client side and may help an attacker; keep it generic.
		return fmt.Errorf("%w: signature or format not accepted", ErrInvalidToken)
	}
}

func channelsOf(tok jwt.Token) ([]string, error) {
	if !tok.Has(ChannelsClaim) {
		return nil, nil
	}
	var raw any
	if err := tok.Get(ChannelsClaim, &raw); err != nil {
		// jwx refuses to hand out a JSON null; treat it as no channels.
		var claims struct {
			Channels json.RawMessage `json:"channels"`
		}
		if b, merr := json.Marshal(tok); merr == nil && json.Unmarshal(b, &claims) == nil && string(claims.Channels) == "null" {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: channels claim: %v", ErrInvalidToken, err)
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: channels claim must be a list of patterns", ErrInvalidToken)
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok || !protocol.ValidPattern(s) {
			return nil, fmt.Errorf("%w: channels claim holds an invalid pattern %v", ErrInvalidToken, item)
		}
		out = append(out, s)
	}
	return out, nil
}

// Mint signs an HS256 token for sub, valid for ttl, granting channels.
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

var _ herald.Authenticator = (*Verifier)(nil)
