// Package auth turns the JSON Web Tokens that clients present into
// identities, and mints tokens for development (`herald token`).
//
// A [Verifier] accepts signed JWTs in compact form. The claims it reads:
//
//   - "sub" (required): the user id, [herald.Identity.UserID].
//   - "exp" (required): when the token expires, [herald.Identity.ExpiresAt].
//   - "nbf" and "iat", when present, must not lie in the future; "iss"
//     and "aud" are checked when the Config names an issuer or audience.
//     Config.Leeway tolerates clock skew on exp, nbf and iat.
//   - "channels": a list of patterns as protocol.MatchPattern reads them,
//     [herald.Identity.Channels]; absent or null grants none.
//   - "info": any JSON object of at most [MaxInfoSize] bytes once
//     compacted, shown to other clients in presence,
//     [herald.Identity.Info]; absent or null is nil.
//
// # Keys and algorithms
//
// Keys come from the Config: HS256 secrets, PEM public keys (RSA RS256,
// ECDSA P-256 ES256, Ed25519 EdDSA, see [ParsePublicKeyPEM]) and a JWKS
// URL. Each key verifies exactly one algorithm, fixed by the key, never by
// the token. A token is checked in this order, and the first failure is
// the answer:
//
//  1. Its header "alg" must be on the allow-list (Config.Algorithms, by
//     default the algorithms of the configured keys). "none" never is.
//  2. Its "kid", if any, selects the keys with that id; a token without a
//     kid is tried against every key of its algorithm. A key of another
//     algorithm than the token's is never used: an HS256 token signed
//     with an RSA public key as its secret is refused, whatever its kid.
//  3. The signature, then the claims.
//
// Failures wrap [ErrInvalidToken] with a short reason meant for the
// client ("algorithm not allowed", "unknown key id", "bad signature",
// "wrong issuer", …) and never name a key or quote a library; an expired
// token gets [ErrExpired], which is herald.ErrTokenExpired. Headers that
// point elsewhere for a key ("jku", "jwk", "x5u") are ignored.
//
// # Key rotation
//
// HS256 secrets rotate by configuring the new secret beside the old one,
// then dropping the old one. With a JWKS the issuer rotates on its own:
// it publishes a new key under a new kid, and the first token naming that
// kid makes the Verifier fetch the JWKS again. Such fetches happen at most
// once per Config.JWKSMinRefreshInterval, so made-up kids cannot make
// Herald hammer the JWKS endpoint. A key the issuer withdraws stops
// verifying at the next periodic fetch (every Config.JWKSRefresh). A
// failed fetch keeps the keys fetched before; only the first fetch, in
// [NewVerifier], must succeed.
//
// # Concurrency properties
//
// A Verifier is safe for concurrent use. Its configured keys and options
// are immutable after NewVerifier. With a JWKS URL, httprc fetches the set
// in its own goroutines and publishes each new set atomically; an
// Authenticate call reads the set once per lookup, so a refresh never
// shows it half a set. Unknown-kid fetches take a one-slot semaphore:
// concurrent calls wait for the fetch in flight (or their context) rather
// than start their own. Close stops the goroutines and waits for them; it
// may be called concurrently with Authenticate, which afterwards goes on
// with the last keys fetched and fetches no more.
package auth
