// Package mapentry is what the brokers share about channel maps
// ([herald.MapBroker]): the record in which they store one key's version
// and value, and the rules for channel, map and key names.
//
// A record is the version as 8 bytes, big-endian, then the value to the
// end. Records of equal length compare as their versions do byte by
// byte, which a Redis script can do without numbers (Lua's are doubles).
//
// # Concurrency properties
//
// The functions keep no state and may be called concurrently.
package mapentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

const (
	// MaxName is the longest map name, in bytes.
	MaxName = 32
	// MaxKey is the longest key, in bytes.
	MaxKey = 256
	// VersionLen is the length of the version at the start of a record.
	VersionLen = 8
)

// ErrCorrupt is returned for a record this package did not write.
var ErrCorrupt = errors.New("corrupt map record")

// ErrInvalid is wrapped by the errors of Check and CheckKey.
var ErrInvalid = errors.New("invalid map address")

// Encode writes the record of e's version and value.
func Encode(e herald.MapEntry) []byte {
	b := make([]byte, VersionLen, VersionLen+len(e.Value))
	binary.BigEndian.PutUint64(b, e.Version)
	return append(b, e.Value...)
}

// Decode is the inverse of Encode, over a string (as Redis clients hand
// values over) or bytes; the entry it returns has key as its Key and
// copies the value.
func Decode[T ~string | ~[]byte](key string, rec T) (herald.MapEntry, error) {
	if len(rec) < VersionLen {
		return herald.MapEntry{}, ErrCorrupt
	}
	var v uint64
	for i := range VersionLen {
		v = v<<8 | uint64(rec[i])
	}
	// append, not a conversion: converting bytes to bytes would not copy.
	return herald.MapEntry{Key: key, Version: v, Value: append([]byte(nil), rec[VersionLen:]...)}, nil
}

// Check returns an error wrapping ErrInvalid unless channel is a valid
// channel name (protocol.ValidChannel), name a valid map name and each
// key a valid key (see CheckKey).
func Check(channel, name string, keys ...string) error {
	if !protocol.ValidChannel(channel) {
		return fmt.Errorf("%w: channel name %q", ErrInvalid, channel)
	}
	if !ValidName(name) {
		return fmt.Errorf("%w: map name %q: want 1 to %d of [A-Za-z0-9_-]", ErrInvalid, name, MaxName)
	}
	for _, k := range keys {
		if err := CheckKey(k); err != nil {
			return err
		}
	}
	return nil
}

// CheckKey returns an error wrapping ErrInvalid unless key is 1 to
// MaxKey bytes of valid UTF-8.
func CheckKey(key string) error {
	if len(key) == 0 || len(key) > MaxKey || !utf8.ValidString(key) {
		return fmt.Errorf("%w: key %q: want 1 to %d bytes of UTF-8", ErrInvalid, key, MaxKey)
	}
	return nil
}

// ValidName reports whether name is a valid map name: 1 to MaxName
// ASCII letters, digits, '_' or '-', so that it is safe in every
// broker's key scheme as it is.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Unique returns keys without repeats, in the order of their first
// appearance; it returns keys itself when there are none.
func Unique(keys []string) []string {
	if len(keys) < 2 {
		return keys
	}
	seen := make(map[string]struct{}, len(keys))
	out := keys[:0:0]
	for _, k := range keys {
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, k)
	}
	return out
}
