package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

// Algorithms a Verifier supports. Each key verifies exactly one of them:
// an HMAC secret HS256, an RSA key RS256, an ECDSA P-256 key ES256 and an
// Ed25519 key EdDSA.
const (
	HS256 = "HS256"
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// minSecretLen is the least length of an HS256 secret: RFC 7518 section
// 3.2 requires a key at least as long as the hash output.
const minSecretLen = 32

// minRSABits is the least size of an RSA key (RFC 7518 section 3.3).
const minRSABits = 2048

// PublicKey is a key that verifies asymmetric signatures. Make one with
// [ParsePublicKeyPEM]; the zero value holds no key and is refused by
// [NewVerifier].
type PublicKey struct {
	// KeyID, when set, is the "kid" a token names to select this key. A
	// token without a "kid" is tried against every key of its algorithm.
	KeyID string

	alg jwa.SignatureAlgorithm
	key crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// ParsePublicKeyPEM parses one PEM block holding a public key ("PUBLIC
// KEY", "RSA PUBLIC KEY", or a "CERTIFICATE" whose key is pinned without
// checking the certificate) and returns it with keyID as its "kid". The
// key decides the one algorithm it verifies: RSA (at least 2048 bits)
// RS256, ECDSA on P-256 ES256, Ed25519 EdDSA. Private keys are refused.
func ParsePublicKeyPEM(pemBytes []byte, keyID string) (PublicKey, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return PublicKey{}, errors.New("auth: no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return PublicKey{}, errors.New("auth: more than one PEM block; give one key per entry")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return PublicKey{}, errors.New("auth: the PEM block is a private key; configure the public key only")
		}
		return PublicKey{}, fmt.Errorf("auth: unsupported PEM block type %q", block.Type)
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("auth: parse %s: %w", strings.ToLower(block.Type), err)
	}
	alg, err := algorithmFor(key)
	if err != nil {
		return PublicKey{}, fmt.Errorf("auth: %w", err)
	}
	return PublicKey{KeyID: keyID, alg: alg, key: key}, nil
}

// Algorithm returns the one algorithm the key verifies ("RS256", "ES256"
// or "EdDSA"), or "" for the zero PublicKey.
func (k PublicKey) Algorithm() string {
	if k.key == nil {
		return ""
	}
	return k.alg.String()
}

// verificationKey is one key together with the one algorithm it may
// verify. Binding the algorithm to the key, not taking it from the token,
// is what rules out algorithm confusion.
type verificationKey struct {
	kid string
	alg jwa.SignatureAlgorithm
	key any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keySet is an immutable list of keys. It is small (a handful of
// configured keys, or one JWKS), so lookups scan it.
type keySet []verificationKey

// appendKid appends the keys whose kid is kid to dst.
func (s keySet) appendKid(dst keySet, kid string) keySet {
	for _, k := range s {
		if k.kid == kid {
			dst = append(dst, k)
		}
	}
	return dst
}

// appendAlg appends the keys that verify alg to dst.
func (s keySet) appendAlg(dst keySet, alg string) keySet {
	for _, k := range s {
		if k.alg.String() == alg {
			dst = append(dst, k)
		}
	}
	return dst
}

// hasAlg reports whether some key verifies one of algs.
func (s keySet) hasAlg(algs map[string]bool) bool {
	for _, k := range s {
		if algs[k.alg.String()] {
			return true
		}
	}
	return false
}

// algorithmFor returns the one algorithm a public key verifies, or why
// the key is not accepted.
func algorithmFor(key any) (jwa.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < minRSABits {
			return jwa.SignatureAlgorithm{}, fmt.Errorf("RSA key too small (at least %d bits are required)", minRSABits)
		}
		return jwa.RS256(), nil
	case *ecdsa.PublicKey:
		if k.Curve == nil || k.Curve.Params().Name != "P-256" {
			return jwa.SignatureAlgorithm{}, errors.New("ECDSA key not on P-256 (only ES256 is supported)")
		}
		return jwa.ES256(), nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return jwa.SignatureAlgorithm{}, errors.New("malformed Ed25519 key")
		}
		return jwa.EdDSA(), nil
	default:
		return jwa.SignatureAlgorithm{}, fmt.Errorf("unsupported key type %T (RSA, ECDSA P-256 and Ed25519 are)", key)
	}
}

// supportedAlgorithm reports whether name is an algorithm a Verifier can
// check.
func supportedAlgorithm(name string) bool {
	switch name {
	case HS256, RS256, ES256, EdDSA:
		return true
	}
	return false
}
