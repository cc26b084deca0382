package redisbroker

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/internal/mapentry"
)

// MapPut implements herald.MapBroker. One script compares the versions
// and writes, so puts of one key are atomic across nodes. As with
// Publish, with Config.WaitReplicas the answer comes once enough replicas
// have the key's record (the stored one, or the one that refused the
// put); otherwise the answer is returned together with an error wrapping
// ErrNotReplicated.
func (b *Broker) MapPut(ctx context.Context, channel, name string, e herald.MapEntry) (bool, herald.MapEntry, error) {
	if b.closed.Load() {
		return false, herald.MapEntry{}, herald.ErrClosed
	}
	if err := mapentry.Check(channel, name, e.Key); err != nil {
		return false, herald.MapEntry{}, fmt.Errorf("redisbroker: %w", err)
	}
	touch := "0"
	if b.cfg.WaitReplicas > 0 {
		touch = "1"
	}
	c := call{script: mapPutScript, keys: []string{b.mapKey(channel, name)},
		args: []string{e.Key, string(mapentry.Encode(e)), touch}}
	var (
		res     rueidis.RedisResult
		waitErr error
	)
	if b.cfg.WaitReplicas <= 0 {
		res = b.run(ctx, c)[0]
	} else {
		var n int64
		res, n, waitErr = b.runWait(ctx, c)
		if waitErr == nil && n < int64(b.cfg.WaitReplicas) {
			waitErr = fmt.Errorf("%w: %d of %d within %v", ErrNotReplicated, n, b.cfg.WaitReplicas, b.cfg.WaitTimeout)
		}
	}
	vals, err := res.ToArray()
	if err != nil {
		return false, herald.MapEntry{}, b.mapErr(fmt.Errorf("redisbroker: map put %s/%s: %w", channel, name, err))
	}
	if len(vals) != 2 {
		return false, herald.MapEntry{}, fmt.Errorf("redisbroker: map put %s/%s: %w: %d values", channel, name, errCorrupt, len(vals))
	}
	stored, err1 := vals[0].AsInt64()
	rec, err2 := vals[1].ToString()
	if err1 != nil || err2 != nil {
		return false, herald.MapEntry{}, fmt.Errorf("redisbroker: map put %s/%s: %w", channel, name, errCorrupt)
	}
	if stored == 1 {
		return true, e, waitErr
	}
	now, err := mapentry.Decode(e.Key, rec)
	if err != nil {
		return false, herald.MapEntry{}, fmt.Errorf("redisbroker: map put %s/%s: %w: %w", channel, name, errCorrupt, err)
	}
	return false, now, waitErr
}

// MapGet implements herald.MapBroker: HGETALL for the whole map, HMGET
// for chosen keys.
func (b *Broker) MapGet(ctx context.Context, channel, name string, keys ...string) ([]herald.MapEntry, error) {
	if b.closed.Load() {
		return nil, herald.ErrClosed
	}
	if err := mapentry.Check(channel, name, keys...); err != nil {
		return nil, fmt.Errorf("redisbroker: %w", err)
	}
	key := b.mapKey(channel, name)
	var out []herald.MapEntry
	if len(keys) == 0 {
		all, err := b.client.Do(ctx, b.client.B().Hgetall().Key(key).Build().Pin()).AsStrMap()
		if err != nil {
			return nil, b.mapErr(fmt.Errorf("redisbroker: map %s/%s: %w", channel, name, err))
		}
		for k, rec := range all {
			e, err := mapentry.Decode(k, rec)
			if err != nil {
				return nil, fmt.Errorf("redisbroker: map %s/%s key %q: %w: %w", channel, name, k, errCorrupt, err)
			}
			out = append(out, e)
		}
		return out, nil
	}
	keys = mapentry.Unique(keys)
	vals, err := b.client.Do(ctx, b.client.B().Hmget().Key(key).Field(keys...).Build().Pin()).ToArray()
	if err != nil {
		return nil, b.mapErr(fmt.Errorf("redisbroker: map %s/%s: %w", channel, name, err))
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("redisbroker: map %s/%s: %w: %d values for %d keys", channel, name, errCorrupt, len(vals), len(keys))
	}
	for i, v := range vals {
		rec, err := v.ToString()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("redisbroker: map %s/%s: %w: %w", channel, name, errCorrupt, err)
		}
		e, err := mapentry.Decode(keys[i], rec)
		if err != nil {
			return nil, fmt.Errorf("redisbroker: map %s/%s key %q: %w: %w", channel, name, keys[i], errCorrupt, err)
		}
		out = append(out, e)
	}
	return out, nil
}

var _ herald.MapBroker = (*Broker)(nil)
