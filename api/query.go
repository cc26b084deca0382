package api

import (
	"math"
	"net/url"
	"slices"
	"strconv"

	"github.com/heraldrt/herald/protocol"
)

// query reads a GET request's parameters. Like decodeJSON it refuses what
// it does not know: a misspelt "limt=5" that is ignored gives a page of
// the wrong size with no hint why.
type query struct {
	v url.Values
}

// parseQuery checks that raw names only the parameters known, each at
// most once.
func parseQuery(raw string, known ...string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, errorf(protocol.CodeBadRequest, "malformed query string")
	}
	for name, vals := range v {
		if !slices.Contains(known, name) {
			return query{}, errorf(protocol.CodeBadRequest, "unknown query parameter %q", truncate(name, 64))
		}
		if len(vals) > 1 {
			return query{}, errorf(protocol.CodeBadRequest, "query parameter %q given more than once", name)
		}
	}
	return query{v: v}, nil
}

// has reports whether the parameter was given.
func (q query) has(name string) bool { return q.v.Has(name) }

// str returns the parameter, or "" if absent.
func (q query) str(name string) string { return q.v.Get(name) }

// uint returns the parameter as an integer from min to math.MaxInt64, or
// def if absent. The upper bound keeps seq arithmetic (after+1) from
// wrapping, and is far above any seq a channel reaches.
func (q query) uint(name string, min, def uint64) (uint64, error) {
	if !q.v.Has(name) {
		return def, nil
	}
	n, err := strconv.ParseUint(q.v.Get(name), 10, 63)
	if err != nil || n < min {
		return 0, errorf(protocol.CodeBadRequest, "%s must be an integer from %d to %d", name, min, uint64(math.MaxInt64))
	}
	return n, nil
}

// limit returns the page size: 1 to MaxLimit, DefaultLimit if absent.
func (q query) limit() (int, error) {
	n, err := q.uint("limit", 1, DefaultLimit)
	if err != nil || n > MaxLimit {
		return 0, errorf(protocol.CodeBadRequest, "limit must be an integer from 1 to %d", MaxLimit)
	}
	return int(n), nil
}

// channel returns the required channel parameter, checked by the
// protocol's rules so that the codes match the WebSocket's (too_large
// for a name over 255 bytes, bad_request for an invalid one).
func (q query) channel() (string, error) {
	ch := q.v.Get("channel")
	if err := validChannel(ch); err != nil {
		return "", err
	}
	return ch, nil
}

// validChannel checks a channel name by the protocol's rules.
func validChannel(ch string) error {
	f := protocol.Frame{Type: protocol.TypeSubscribe, Channel: ch}
	if perr := f.ValidateClient(); perr != nil {
		return perr
	}
	return nil
}

// channelOnly parses a query string whose one parameter is channel, as
// the reads of one channel's live state take.
func channelOnly(raw string) (string, error) {
	q, err := parseQuery(raw, "channel")
	if err != nil {
		return "", err
	}
	return q.channel()
}

// nodeScope reads the scope parameter of the reads that cover the
// cluster: absent or "cluster" asks every node sharing the broker,
// "node" the node that answers alone.
func (q query) nodeScope() (bool, error) {
	switch q.str("scope") {
	case "", "cluster":
		return false, nil
	case "node":
		return true, nil
	}
	return false, errorf(protocol.CodeBadRequest, "scope must be node or cluster")
}
