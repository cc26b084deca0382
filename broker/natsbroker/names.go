package natsbroker

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldrt/herald/protocol"
)

// Names of what the broker keeps on the server, for prefix "herald":
//
//	subject   herald.<channel>               (channel dots are subject dots)
//	stream    HERALD_<namespace, encoded>    subjects herald.<ns>, herald.<ns>.>
//	buckets   herald_presence, herald_leases, herald_maps
//	          (streams KV_herald_presence, …)
//	subject   herald.{eph}.<ns>.<channel>    ephemeral messages, core NATS only
//
// The ephemeral subjects' second token holds braces, which no channel
// name does: no namespace is called "{eph}", so no namespace's stream
// takes these subjects in, while they stay under the prefix that NATS
// permissions grant Herald.
// Stream names are also directory names in the server's store, which may
// be on a case-insensitive file system, so the encoding of a namespace
// keeps only lowercase letters, digits and '-' as they are; every other
// byte becomes '_' and two uppercase hex digits. Literal letters are
// always lowercase and escapes always uppercase, so two namespaces never
// share a stream name, even when case is folded.

// maxEncodedNamespace caps the encoded namespace in a stream name; longer
// ones keep a readable head and a digest of the whole.
const maxEncodedNamespace = 64

var errBadPrefix = errors.New("natsbroker: prefix must be 1 to 32 of [A-Za-z0-9_-]")

// validPrefix reports whether p may be a prefix: it is used as a subject
// token, in stream names and in bucket names, which all take these bytes.
func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > 32 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// names derives the server-side names of one broker's data from its
// prefix.
type names struct {
	prefix       string // subject prefix, "herald"
	streamPrefix string // "HERALD_"
}

func newNames(prefix string) names {
	return names{prefix: prefix, streamPrefix: strings.ToUpper(prefix) + "_"}
}

// subject is the channel's subject. The channel must be valid.
func (n names) subject(channel string) string { return n.prefix + "." + channel }

// channel is the inverse of subject; ok is false for a subject outside
// the prefix.
func (n names) channel(subject string) (string, bool) {
	ch, ok := strings.CutPrefix(subject, n.prefix+".")
	return ch, ok && ch != ""
}

// streamSubjects are the subjects of the namespace's stream: the channel
// named like the namespace itself and every channel below it.
func (n names) streamSubjects(ns string) []string {
	return []string{n.prefix + "." + ns, n.prefix + "." + ns + ".>"}
}

// ephemeralToken is the token after the prefix of ephemeral subjects.
const ephemeralToken = "{eph}"

// ephemeralSubject is the core NATS subject of the channel's ephemeral
// messages: the namespace, then the channel, whose dots are subject
// dots, so that one subscription per namespace takes them all. The
// channel must be valid.
func (n names) ephemeralSubject(channel string) string {
	return n.prefix + "." + ephemeralToken + "." + protocol.Namespace(channel) + "." + channel
}

// ephemeralFilter is the subscription to every ephemeral subject of the
// namespace.
func (n names) ephemeralFilter(ns string) string {
	return n.prefix + "." + ephemeralToken + "." + ns + ".>"
}

// ephemeralChannel is the inverse of ephemeralSubject for a subject that
// ephemeralFilter(ns) matched; ok is false for one that ephemeralSubject
// does not make.
func (n names) ephemeralChannel(ns, subject string) (string, bool) {
	ch, ok := strings.CutPrefix(subject, n.prefix+"."+ephemeralToken+"."+ns+".")
	return ch, ok && protocol.ValidChannel(ch) && protocol.Namespace(ch) == ns
}

// stream is the name of the namespace's stream.
func (n names) stream(ns string) string { return n.streamPrefix + encodeNamespace(ns) }

func (n names) presenceBucket() string { return n.prefix + "_presence" }
func (n names) leaseBucket() string    { return n.prefix + "_leases" }
func (n names) mapBucket() string      { return n.prefix + "_maps" }

// encodeNamespace encodes ns for a stream name (see the comment above).
func encodeNamespace(ns string) string {
	var b strings.Builder
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02X", c)
	}
	s := b.String()
	if len(s) <= maxEncodedNamespace {
		return s
	}
	// "__" never occurs in the plain encoding ('_' is always followed by
	// a hex digit), so the digest form cannot collide with it.
	sum := sha256.Sum256([]byte(ns))
	return s[:maxEncodedNamespace-34] + "__" + hex.EncodeToString(sum[:16])
}

// checkChannel returns an error for a name that is not a valid channel
// (protocol.ValidChannel): such names are not valid subjects either.
func checkChannel(channel string) error {
	if !protocol.ValidChannel(channel) {
		return fmt.Errorf("natsbroker: invalid channel name %q", channel)
	}
	return nil
}

// keyToken encodes s as one token of a KV key, whose bytes may be
// [-/_=.a-zA-Z0-9]: letters, digits, '-', '_' and '/' stay, every other
// byte (the dot among them) becomes '=' and two uppercase hex digits. An
// empty s becomes "=", which no non-empty s encodes to.
func keyToken(s string) string {
	if s == "" {
		return "="
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) || c == '-' || c == '_' || c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "=%02X", c)
	}
	return b.String()
}

// decodeKeyToken is the inverse of keyToken.
func decodeKeyToken(t string) (string, error) {
	if t == "=" {
		return "", nil
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case isAlnum(c) || c == '-' || c == '_' || c == '/':
			b.WriteByte(c)
		case c == '=' && i+2 < len(t) && isUpperHex(t[i+1]) && isUpperHex(t[i+2]):
			d := unhex(t[i+1])<<4 | unhex(t[i+2])
			if isAlnum(d) || d == '-' || d == '_' || d == '/' {
				// keyToken writes these as they are: only one
				// token stands for each string.
				return "", fmt.Errorf("natsbroker: bad key token %q", t)
			}
			b.WriteByte(d)
			i += 2
		default:
			return "", fmt.Errorf("natsbroker: bad key token %q", t)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("natsbroker: bad key token %q", t)
	}
	return b.String(), nil
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

// presenceKey is the KV key of a connection's entry in a channel.
func presenceKey(channel, connectionID string) string {
	return keyToken(channel) + "." + keyToken(connectionID)
}

// mapKey is the KV key of a key of a channel map:
// keyToken(channel).keyToken(name).keyToken(key). No token holds a dot,
// so a map's keys are exactly those mapFilter matches.
func mapKey(channel, name, key string) string {
	return keyToken(channel) + "." + keyToken(name) + "." + keyToken(key)
}

// mapFilter matches the keys of every entry of a channel map.
func mapFilter(channel, name string) string { return keyToken(channel) + "." + keyToken(name) + ".*" }

// presenceFilter matches the keys of every entry of a channel.
func presenceFilter(channel string) string { return keyToken(channel) + ".*" }

// validKey reports whether k is a KV key this package could have written:
// dot-separated non-empty tokens of [-/_=a-zA-Z0-9].
func validKey(k string) bool {
	if k == "" {
		return false
	}
	tokenStart := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '.':
			if tokenStart {
				return false
			}
			tokenStart = true
			continue
		case isAlnum(c) || c == '-' || c == '_' || c == '/' || c == '=':
		default:
			return false
		}
		tokenStart = false
	}
	return !tokenStart
}

// msgID is the Nats-Msg-Id of a publication: a digest of its channel and
// id, since JetStream's dedupe window is per stream and a stream holds a
// whole namespace.
func msgID(channel, id string) string {
	h := sha256.New()
	h.Write([]byte(channel))
	h.Write([]byte{0})
	h.Write([]byte(id))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
