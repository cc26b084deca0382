package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries a request's signature.
const SignatureHeader = "Herald-Signature"

// DefaultTolerance is how old (or how far ahead of the verifier's clock) a
// signature's timestamp may be before Verify rejects it as a replay.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	// ErrNoSignature: the header is missing or not of the form
	// "t=<unix seconds>,v1=<hex>".
	ErrNoSignature = errors.New("webhook: no valid Herald-Signature header")
	// ErrBadSignature: no v1 signature matches the body and the secret.
	ErrBadSignature = errors.New("webhook: signature does not match")
	// ErrStaleSignature: the signature's timestamp is outside the
	// tolerance: a replay, or a clock far off.
	ErrStaleSignature = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the Herald-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>.<body>">".
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// Verify checks a Herald-Signature header against the raw request body:
// one of its v1 signatures must be the HMAC-SHA256 of "<t>.<body>" under
// secret, and t must be within tolerance of now, either way. A tolerance
// of zero or less means DefaultTolerance. Verify the body exactly as
// received, before decoding it. It returns ErrNoSignature,
// ErrBadSignature or ErrStaleSignature.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrNoSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			// More than one v1 lets a sender sign with an old and a new
			// secret while they are rotated.
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return ErrBadSignature
	}
	// Checked after the MAC, so a forged header learns nothing from which
	// error it gets.
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleSignature
	}
	return nil
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
