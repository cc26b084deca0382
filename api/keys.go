package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync/atomic"
)

// Keys is the set of API keys the server API accepts. Several keys may be
// valid at once, so that a key can be rotated without downtime: add the
// new key, move the backends over to it, then drop the old one.
//
// Keys keeps only the SHA-256 digest of each key, never the key itself,
// so a heap dump or a stray log of the set reveals nothing usable. Valid
// compares digests in constant time: the comparison is over fixed-length
// digests, so neither a key's content nor its length shows in the timing.
//
// A Keys is safe for concurrent use. The zero value holds no key: every
// request is refused until Replace adds one.
type Keys struct {
	// set is replaced whole by Replace and never modified in place, so
	// readers load it without a lock and see either the old set or the new
	// one, never a mix.
	set atomic.Pointer[[]keyDigest]
}

type keyDigest [sha256.Size]byte

// NewKeys returns a set holding keys (see Replace for how they are read).
func NewKeys(keys ...string) *Keys {
	k := new(Keys)
	k.Replace(keys)
	return k
}

// Replace makes keys the valid set, dropping every key not in it: a
// dropped key is refused from the next request on (requests already
// authenticated finish). It may be called at any time, concurrently with
// requests; the server calls it when it reloads its configuration.
//
// Surrounding whitespace is trimmed from each key, because HTTP trims it
// from header values, so a key that kept it could never match. Empty keys
// are ignored: the empty string is never a valid key.
func (k *Keys) Replace(keys []string) {
	set := make([]keyDigest, 0, len(keys))
	for _, key := range keys {
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		set = append(set, sha256.Sum256([]byte(key)))
	}
	k.set.Store(&set)
}

// Len returns how many keys are valid.
func (k *Keys) Len() int {
	if set := k.set.Load(); set != nil {
		return len(*set)
	}
	return 0
}

// Valid reports whether key is in the set. It compares key's digest with
// every digest in the set, without stopping at a match, so the time it
// takes depends only on the size of the set.
func (k *Keys) Valid(key string) bool {
	if key == "" {
		return false
	}
	set := k.set.Load()
	if set == nil {
		return false
	}
	d := sha256.Sum256([]byte(key))
	match := 0
	for i := range *set {
		match |= subtle.ConstantTimeCompare(d[:], (*set)[i][:])
	}
	return match == 1
}

// digest returns the SHA-256 digest of a key for use as a map key (the
// rate limiter's), so the plain key is not kept there either.
func digest(key string) string {
	d := sha256.Sum256([]byte(key))
	return string(d[:])
}
