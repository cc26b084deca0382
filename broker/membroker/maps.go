package membroker

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/internal/mapentry"
)

// Channel maps live in the log's store, under their own prefix (keys.go),
// as records of version and value (mapentry). A put goes through the
// committer like a publish: the committer compares the versions and
// writes in the same step, so puts of one key never interleave, and the
// put is acknowledged after the commit that holds it, with the same
// fsync (group commit) as the publishes beside it.

// mapPutReq is a MapPut for the committer.
type mapPutReq struct {
	key   []byte // the store key
	entry herald.MapEntry
	done  chan struct{}
	// stored and now are the answer, valid once done is closed and err
	// is nil.
	stored bool
	now    herald.MapEntry
	err    error
}

func (r *mapPutReq) fail(err error) { r.err = err; close(r.done) }

// MapPut implements herald.MapBroker.
func (b *Broker) MapPut(ctx context.Context, channel, name string, e herald.MapEntry) (bool, herald.MapEntry, error) {
	if b.closed.Load() {
		return false, herald.MapEntry{}, herald.ErrClosed
	}
	if err := mapentry.Check(channel, name, e.Key); err != nil {
		return false, herald.MapEntry{}, fmt.Errorf("membroker: %w", err)
	}
	req := &mapPutReq{key: mapKey(channel, name, e.Key), entry: e, done: make(chan struct{})}
	if err := b.submit(ctx, req); err != nil {
		return false, herald.MapEntry{}, err
	}
	select {
	case <-req.done:
		return req.stored, req.now, req.err
	case <-ctx.Done():
		// The put may still commit; a retry is refused then, and
		// answers with what it stored.
		return false, herald.MapEntry{}, ctx.Err()
	}
}

// MapGet implements herald.MapBroker. It reads what is committed, on the
// caller's goroutine.
func (b *Broker) MapGet(_ context.Context, channel, name string, keys ...string) ([]herald.MapEntry, error) {
	if b.closed.Load() {
		return nil, herald.ErrClosed
	}
	if err := mapentry.Check(channel, name, keys...); err != nil {
		return nil, fmt.Errorf("membroker: %w", err)
	}
	if len(keys) > 0 {
		var out []herald.MapEntry
		for _, k := range mapentry.Unique(keys) {
			e, ok, err := b.readMapEntry(mapKey(channel, name, k), k)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, e)
			}
		}
		return out, nil
	}
	prefix := mapPrefix(channel, name)
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: mapPrefixEnd(channel, name)})
	if err != nil {
		return nil, fmt.Errorf("membroker: map %s of %s: %w", name, channel, err)
	}
	defer it.Close()
	var out []herald.MapEntry
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("membroker: map %s of %s: %w", name, channel, err)
		}
		e, err := mapentry.Decode(string(it.Key()[len(prefix):]), v)
		if err != nil {
			return nil, fmt.Errorf("membroker: map %s of %s: %w", name, channel, err)
		}
		out = append(out, e)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("membroker: map %s of %s: %w", name, channel, err)
	}
	return out, nil
}

// readMapEntry reads one key of a map from the store; ok is false when
// the key is absent.
func (b *Broker) readMapEntry(storeKey []byte, key string) (e herald.MapEntry, ok bool, err error) {
	v, closer, err := b.db.Get(storeKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return herald.MapEntry{}, false, nil
	}
	if err != nil {
		return herald.MapEntry{}, false, fmt.Errorf("membroker: map read: %w", err)
	}
	defer closer.Close()
	e, err = mapentry.Decode(key, v) // copies the value
	if err != nil {
		return herald.MapEntry{}, false, fmt.Errorf("membroker: map key %q: %w", key, err)
	}
	return e, true, nil
}

// putMap is the committer's part of a MapPut: it compares r's version
// with the key's, as committed or as written earlier in the same batch
// (pending), and adds the write to wb if r's is higher. The answer is
// set in r, to be given once the batch is committed.
func (b *Broker) putMap(wb *pebble.Batch, r *mapPutReq, pending map[string]herald.MapEntry) error {
	cur, ok := pending[string(r.key)]
	if !ok {
		var err error
		if cur, ok, err = b.readMapEntry(r.key, r.entry.Key); err != nil {
			return err
		}
	}
	if ok && cur.Version >= r.entry.Version {
		r.stored, r.now = false, cur
		return nil
	}
	_ = wb.Set(r.key, mapentry.Encode(r.entry), nil)
	pending[string(r.key)] = r.entry
	r.stored, r.now = true, r.entry
	return nil
}

var _ herald.MapBroker = (*Broker)(nil)
