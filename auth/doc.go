// Package auth turns the JSON Web Tokens that clients present into
// identities: who the user is (claim "sub"), until when (claim "exp",
// required) and which channels it may use (claim "channels", a list of
// patterns as protocol.MatchPattern reads them). It also mints tokens for
// development (`herald token`).
//
// # Concurrency properties
//
// A Verifier is immutable after New and safe for concurrent use.
package auth
