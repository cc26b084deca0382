package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/heraldrt/herald"
)

// Config configures a Verifier. Zero values are the documented defaults.
// At least one key source is required: Secrets, PublicKeys or JWKSURL.
type Config struct {
	// Secrets are HS256 keys, at least 32 bytes each. A token is tried
	// against each in turn, so a new secret can be added before the old
	// one is removed.
	Secrets [][]byte
	// PublicKeys are RSA, ECDSA P-256 and Ed25519 keys from
	// [ParsePublicKeyPEM]. Key ids must be unique among them.
	PublicKeys []PublicKey
	// JWKSURL, when set, is a JSON Web Key Set whose RSA, EC P-256 and
	// Ed25519 signature keys are used alongside the configured ones.
	// NewVerifier fails if it cannot fetch it. Symmetric keys in the set
	// are ignored.
	JWKSURL string
	// JWKSRefresh is how often the JWKS is fetched again. Zero means 5
	// minutes.
	JWKSRefresh time.Duration
	// JWKSMinRefreshInterval is the least time between two fetches caused
	// by tokens naming an unknown kid. Zero means 30 seconds.
	JWKSMinRefreshInterval time.Duration
	// Algorithms are the "alg" values accepted (HS256, RS256, ES256,
	// EdDSA). Empty means those of the configured keys: HS256 with
	// Secrets, each PublicKey's own, and RS256, ES256 and EdDSA with a
	// JWKS URL. Whatever the list, a key only verifies its own algorithm.
	Algorithms []string
	// Issuer, when set, must equal the token's "iss".
	Issuer string
	// Audience, when set, must be among the token's "aud".
	Audience string
	// Leeway tolerates clock skew on exp, nbf and iat. Zero means none.
	Leeway time.Duration
	// Clock tells the time; it also paces unknown-kid refreshes. Nil
	// means the system clock.
	Clock herald.Clock
	// HTTPClient fetches the JWKS. Nil means a client with a 30-second
	// timeout; a client without a timeout gets that one. Redirects to
	// http are refused either way.
	HTTPClient *http.Client
	// Logger receives JWKS refresh failures. Nil discards them.
	Logger *slog.Logger
}

// Verifier checks signed JWTs (compact JWS) and turns them into
// identities. Each key verifies exactly one algorithm, and the token's
// "alg" must be on the allow-list and match the key: "none", a token
// whose "alg" names another family than its key (HS256 signed with an
// RSA public key as the secret), or an algorithm outside the list is
// refused before any signature check.
type Verifier struct {
	allowed   map[string]bool
	static    keySet
	jwks      *jwksSource // nil without a JWKS URL
	parseOpts []jwt.ParseOption
}

// Errors a Verifier returns. ErrInvalidToken is wrapped with a short
// reason a client may be shown, such as "auth: invalid token: bad
// signature"; no reason names a key or repeats a library's message.
var (
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrExpired is herald.ErrTokenExpired, so that the hub can tell it.
	ErrExpired = herald.ErrTokenExpired
)

var (
	errMalformed         = invalid("malformed token")
	errAlgorithm         = invalid("algorithm not allowed")
	errUnknownKid        = invalid("unknown key id")
	errKeyAlgorithm      = invalid("algorithm does not match key")
	errNoKey             = invalid("no key for this algorithm")
	errSignature         = invalid("bad signature")
	errRequired          = invalid("sub and exp are required")
	errNotYetValid       = invalid("not valid yet")
	errIssuedInTheFuture = invalid("issued in the future")
	errIssuer            = invalid("wrong issuer")
	errAudience          = invalid("wrong audience")
)

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

// NewVerifier returns a Verifier for cfg. With a JWKS URL it fetches the
// set before returning, within ctx, and fails if that fails or the set
// holds no usable key; it then refreshes the set in the background until
// Close.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if len(cfg.Secrets) == 0 && len(cfg.PublicKeys) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("auth: no keys configured (Secrets, PublicKeys or JWKSURL)")
	}
	if cfg.JWKSRefresh < 0 || cfg.JWKSMinRefreshInterval < 0 || cfg.Leeway < 0 {
		return nil, errors.New("auth: JWKSRefresh, JWKSMinRefreshInterval and Leeway must not be negative")
	}
	if cfg.JWKSRefresh == 0 {
		cfg.JWKSRefresh = 5 * time.Minute
	}
	if cfg.JWKSMinRefreshInterval == 0 {
		cfg.JWKSMinRefreshInterval = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = herald.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	v := &Verifier{allowed: map[string]bool{}}
	for i, s := range cfg.Secrets {
		if len(s) < minSecretLen {
			return nil, fmt.Errorf("auth: secret %d is %d bytes; HS256 needs at least %d", i, len(s), minSecretLen)
		}
		v.static = append(v.static, verificationKey{alg: jwa.HS256(), key: slices.Clone(s)})
	}
	kids := map[string]bool{}
	for i, k := range cfg.PublicKeys {
		if k.key == nil {
			return nil, fmt.Errorf("auth: public key %d is empty; make keys with ParsePublicKeyPEM", i)
		}
		if k.KeyID != "" {
			if kids[k.KeyID] {
				return nil, fmt.Errorf("auth: key id %q is given to two public keys", k.KeyID)
			}
			kids[k.KeyID] = true
		}
		v.static = append(v.static, verificationKey{kid: k.KeyID, alg: k.alg, key: k.key})
	}

	if len(cfg.Algorithms) > 0 {
		for _, a := range cfg.Algorithms {
			if !supportedAlgorithm(a) {
				return nil, fmt.Errorf("auth: algorithm %q is not supported (%s, %s, %s, %s are)", a, HS256, RS256, ES256, EdDSA)
			}
			v.allowed[a] = true
		}
	} else {
		for _, k := range v.static {
			v.allowed[k.alg.String()] = true
		}
		if cfg.JWKSURL != "" {
			v.allowed[RS256], v.allowed[ES256], v.allowed[EdDSA] = true, true, true
		}
	}
	if cfg.JWKSURL == "" && !v.static.hasAlg(v.allowed) {
		return nil, fmt.Errorf("auth: no configured key uses an allowed algorithm (%s)", strings.Join(cfg.Algorithms, ", "))
	}

	v.parseOpts = []jwt.ParseOption{
		jwt.WithClock(jwt.ClockFunc(cfg.Clock.Now)),
		jwt.WithAcceptableSkew(cfg.Leeway),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
	}
	if cfg.Issuer != "" {
		v.parseOpts = append(v.parseOpts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		v.parseOpts = append(v.parseOpts, jwt.WithAudience(cfg.Audience))
	}

	if cfg.JWKSURL != "" {
		src, err := newJWKSSource(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		if !v.static.hasAlg(v.allowed) && !src.keys().hasAlg(v.allowed) {
			_ = src.close()
			return nil, fmt.Errorf("auth: no configured or JWKS key uses an allowed algorithm (%s)", strings.Join(cfg.Algorithms, ", "))
		}
		v.jwks = src
	}
	return v, nil
}

// Authenticate implements herald.Authenticator. It returns ErrExpired for
// a token past its exp (beyond the leeway) and ErrInvalidToken, wrapped
// with the reason, for any other fault. A token naming a kid that no key
// has may make it fetch the JWKS, within ctx; a failed fetch leaves the
// keys as they were. It may be called concurrently, also with Close;
// after Close it goes on using the keys it last fetched.
func (v *Verifier) Authenticate(ctx context.Context, token string) (herald.Identity, error) {
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return herald.Identity{}, errMalformed
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	if !ok || !v.allowed[alg.String()] {
		return herald.Identity{}, errAlgorithm
	}
	kid, _ := hdr.KeyID()
	keys, err := v.candidates(ctx, alg.String(), kid)
	if err != nil {
		return herald.Identity{}, err
	}

	// Every candidate verifies alg, so jwt.Parse checks the signature
	// under the key's own algorithm. With one key and no sub-options it
	// takes jws.VerifyCompactFast, which also insists that the header's
	// alg equals the one given.
	var tok jwt.Token
	for _, k := range keys {
		opts := append(v.parseOpts[:len(v.parseOpts):len(v.parseOpts)], jwt.WithKey(k.alg, k.key))
		tok, err = jwt.Parse([]byte(token), opts...)
		if !errors.Is(err, jws.VerificationError()) {
			break // verified (maybe then invalid): no other key applies
		}
	}
	if err != nil {
		return herald.Identity{}, classify(err)
	}

	sub, _ := tok.Subject()
	if sub == "" {
		return herald.Identity{}, errRequired
	}
	exp, _ := tok.Expiration()
	// The claims jwx leaves generic are read from the verified payload
	// as written: this keeps "channels": null and the exact JSON of info.
	channels, info, err := privateClaims(msg.Payload())
	if err != nil {
		return herald.Identity{}, err
	}
	return herald.Identity{UserID: sub, Channels: channels, ExpiresAt: exp, Info: info}, nil
}

// Close stops the background JWKS refresh and waits for its goroutines.
// It is safe to call more than once and concurrently with Authenticate.
func (v *Verifier) Close() error {
	if v.jwks == nil {
		return nil
	}
	return v.jwks.close()
}

// candidates returns the keys that may verify a token with alg and kid,
// or why there are none. A kid selects the keys with that id; no kid
// selects every key of alg. An unknown kid may refresh the JWKS first.
func (v *Verifier) candidates(ctx context.Context, alg, kid string) (keySet, error) {
	if kid == "" {
		keys := v.static.appendAlg(nil, alg)
		if v.jwks != nil {
			keys = v.jwks.keys().appendAlg(keys, alg)
		}
		if len(keys) == 0 {
			return nil, errNoKey
		}
		return keys, nil
	}
	keys := v.withKid(kid)
	// A JWKS never yields HS256 keys, so an HS256 token cannot make it
	// fetch.
	if len(keys) == 0 && v.jwks != nil && alg != HS256 {
		v.jwks.refreshUnknownKid(ctx)
		keys = v.withKid(kid)
	}
	if len(keys) == 0 {
		return nil, errUnknownKid
	}
	if keys = keys.appendAlg(nil, alg); len(keys) == 0 {
		return nil, errKeyAlgorithm
	}
	return keys, nil
}

// withKid returns the configured and JWKS keys whose kid is kid.
func (v *Verifier) withKid(kid string) keySet {
	keys := v.static.appendKid(nil, kid)
	if v.jwks != nil {
		keys = v.jwks.keys().appendKid(keys, kid)
	}
	return keys
}

// classify maps a jwt.Parse error to what the client is told. The
// signature is checked before any claim, so a claim's fault is only ever
// reported for a token the key signed.
func classify(err error) error {
	switch {
	case errors.Is(err, jws.VerificationError()):
		return errSignature
	case errors.Is(err, jwt.TokenExpiredError()):
		return ErrExpired
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return errNotYetValid
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return errIssuedInTheFuture
	case errors.Is(err, jwt.InvalidIssuerError()):
		return errIssuer
	case errors.Is(err, jwt.InvalidAudienceError()):
		return errAudience
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return errRequired
	default:
		// Other errors carry library detail that helps nobody on the
		// client side and may help an attacker.
		return errMalformed
	}
}

var (
	_ herald.Authenticator = (*Verifier)(nil)
	_ io.Closer            = (*Verifier)(nil)
)
