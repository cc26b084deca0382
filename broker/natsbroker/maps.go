package natsbroker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/internal/mapentry"
)

// Channel maps live in one KV bucket, <prefix>_maps:
//
//	key   keyToken(channel).keyToken(map name).keyToken(key)
//	value the version as 8 bytes, big-endian, then the value (mapentry)
//
// A put reads the key and, if the version it holds is lower, writes with
// the revision it read as the expected one (Update; Create when absent).
// JetStream compares the revision and stores in one step, so a write
// that lost a race to another node fails and the put reads again. The
// bucket keeps one revision per key. Unlike the presence buckets it is
// read through the stream's leader when replicated (no direct gets, as
// for the namespace streams), so that a put acked on one node is what
// the next read on any node sees.

// mapTimeout bounds the listing of a whole map.
const mapTimeout = 10 * time.Second

// mapStreamConfig is the configuration of the map bucket's stream: the
// one nats.go gives a KV bucket of history 1, but for direct gets, which
// only a single replica may serve.
func (b *Broker) mapStreamConfig() jetstream.StreamConfig {
	bucket := b.names.mapBucket()
	return jetstream.StreamConfig{
		Name:              "KV_" + bucket,
		Description:       "Herald channel maps",
		Subjects:          []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxConsumers:      -1,
		Storage:           b.cfg.storage(),
		Replicas:          b.cfg.Replicas,
		AllowRollup:       true,
		DenyDelete:        true,
		Duplicates:        2 * time.Minute,
		AllowDirect:       b.cfg.Replicas == 1,
		Discard:           jetstream.DiscardNew,
	}
}

// mapBucket creates the map bucket, or opens it as it is if it exists:
// the first node's settings stand, as for the other buckets.
func (b *Broker) mapBucket(ctx context.Context) (jetstream.KeyValue, error) {
	_, err := b.js.CreateStream(ctx, b.mapStreamConfig())
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", b.names.mapBucket(), err)
	}
	kv, err := b.js.KeyValue(ctx, b.names.mapBucket())
	if err != nil {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", b.names.mapBucket(), err)
	}
	return kv, nil
}

// MapPut implements herald.MapBroker.
func (b *Broker) MapPut(ctx context.Context, channel, name string, e herald.MapEntry) (bool, herald.MapEntry, error) {
	if b.closed.Load() {
		return false, herald.MapEntry{}, herald.ErrClosed
	}
	if err := mapentry.Check(channel, name, e.Key); err != nil {
		return false, herald.MapEntry{}, fmt.Errorf("natsbroker: %w", err)
	}
	stored, now, err := b.mapPut(ctx, mapKey(channel, name, e.Key), e)
	if err != nil {
		return false, herald.MapEntry{}, b.mapErr(fmt.Errorf("natsbroker: map put %s/%s: %w", channel, name, err))
	}
	return stored, now, nil
}

// mapPut compares and writes until the write is stored, the key is found
// to hold a version as high, or the tries run out.
func (b *Broker) mapPut(ctx context.Context, key string, e herald.MapEntry) (bool, herald.MapEntry, error) {
	rec := mapentry.Encode(e)
	// inDoubt is set once a write's answer was lost: it may have been
	// stored all the same, and is then what the next read finds.
	inDoubt := false
	for try := 1; ; try++ {
		var (
			cur herald.MapEntry
			rev uint64 // 0: the key is absent
		)
		err := b.retry(ctx, attemptTimeout, func(ctx context.Context) error {
			kve, err := b.maps.Get(ctx, key)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				rev = 0
				return nil
			}
			if err != nil {
				return err
			}
			rev = kve.Revision()
			if cur, err = mapentry.Decode(e.Key, kve.Value()); err != nil {
				return fmt.Errorf("key %q: %w", e.Key, err)
			}
			return nil
		})
		if err != nil {
			return false, herald.MapEntry{}, err
		}
		if rev != 0 && cur.Version >= e.Version {
			if inDoubt && cur.Version == e.Version && bytes.Equal(cur.Value, e.Value) {
				return true, e, nil // the write whose answer was lost
			}
			return false, cur, nil
		}
		actx, end := b.attempt(ctx, attemptTimeout)
		if rev == 0 {
			_, err = b.maps.Create(actx, key, rec)
		} else {
			_, err = b.maps.Update(actx, key, rec, rev)
		}
		end()
		switch {
		case err == nil:
			return true, e, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			// Another write came first: read it.
			b.conflicts.Add(1)
		case ctx.Err() != nil || !retryable(err):
			return false, herald.MapEntry{}, err
		default:
			inDoubt = true
		}
		if try >= maxConflicts {
			return false, herald.MapEntry{}, fmt.Errorf("gave up after %d tries: %w", try, err)
		}
		if err := b.pause(ctx, try); err != nil {
			return false, herald.MapEntry{}, err
		}
	}
}

// MapGet implements herald.MapBroker: a Get per key asked for, or a
// watcher over the map's keys for all of them.
func (b *Broker) MapGet(ctx context.Context, channel, name string, keys ...string) ([]herald.MapEntry, error) {
	if b.closed.Load() {
		return nil, herald.ErrClosed
	}
	if err := mapentry.Check(channel, name, keys...); err != nil {
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	out, err := b.mapGet(ctx, channel, name, mapentry.Unique(keys))
	if err != nil {
		return nil, b.mapErr(fmt.Errorf("natsbroker: map %s/%s: %w", channel, name, err))
	}
	return out, nil
}

func (b *Broker) mapGet(ctx context.Context, channel, name string, keys []string) ([]herald.MapEntry, error) {
	var out []herald.MapEntry
	if len(keys) > 0 {
		for _, k := range keys {
			var kve jetstream.KeyValueEntry
			err := b.retry(ctx, attemptTimeout, func(ctx context.Context) (err error) {
				kve, err = b.maps.Get(ctx, mapKey(channel, name, k))
				return err
			})
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			e, err := mapentry.Decode(k, kve.Value())
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			out = append(out, e)
		}
		return out, nil
	}
	ctx, cancel := withTimeout(ctx, mapTimeout)
	defer cancel()
	var kves []jetstream.KeyValueEntry
	err := b.retry(ctx, mapTimeout/2, func(ctx context.Context) (err error) {
		kves, err = watchAll(ctx, b.maps, mapFilter(channel, name))
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, kve := range kves {
		k, err := decodeKeyToken(kve.Key()[strings.LastIndexByte(kve.Key(), '.')+1:])
		if err != nil {
			return nil, fmt.Errorf("map key %q: %w", kve.Key(), err)
		}
		e, err := mapentry.Decode(k, kve.Value())
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out = append(out, e)
	}
	return out, nil
}

var _ herald.MapBroker = (*Broker)(nil)
