package membroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/heraldrt/herald"
)

// backgroundLoop runs retention and dedupe expiry every RetentionInterval
// and, with DurabilityNone, fsyncs the log every SyncInterval.
func (b *Broker) backgroundLoop() {
	defer b.loops.Done()
	retention := time.NewTicker(b.cfg.RetentionInterval)
	defer retention.Stop()
	var syncC <-chan time.Time
	if b.cfg.Durability == DurabilityNone {
		t := time.NewTicker(b.cfg.SyncInterval)
		defer t.Stop()
		syncC = t.C
	}
	for {
		select {
		case <-b.closing:
			return
		case <-syncC:
			if err := b.db.LogData(nil, pebble.Sync); err != nil {
				b.log.Error("periodic log sync failed", "err", err)
			}
		case <-retention.C:
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-b.closing:
				case <-ctx.Done():
				}
				cancel()
			}()
			if err := b.RunRetention(ctx); err != nil && !errors.Is(err, context.Canceled) {
				b.log.Error("retention failed", "err", err)
			}
			cancel()
		}
	}
}

// RunRetention applies retention now: it drops publications older than
// RetentionAge or beyond RetentionCount in every channel, and forgets
// dedupe ids older than the window. It returns once the trims are
// committed. It runs on its own schedule; tests and operators may call it
// at any time.
func (b *Broker) RunRetention(ctx context.Context) error {
	now := b.cfg.Clock.Now().UnixMilli()
	it, err := b.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixMeta},
		UpperBound: []byte{prefixMeta + 1},
	})
	if err != nil {
		return fmt.Errorf("membroker: retention: %w", err)
	}
	var trims []*trimReq
	for ok := it.First(); ok; ok = it.Next() {
		channel := string(it.Key()[1:])
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("membroker: retention: %w", err)
		}
		head, oldest, err := decodeMeta(v)
		if err != nil {
			it.Close()
			return fmt.Errorf("membroker: retention %s: %w", channel, err)
		}
		to, err := b.retainFrom(channel, head, oldest, now, b.cfg.RetentionFor(channel))
		if err != nil {
			it.Close()
			return err
		}
		if to > oldest {
			trims = append(trims, &trimReq{channel: channel, oldest: to})
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("membroker: retention: %w", err)
	}
	for _, t := range trims {
		if err := b.submit(ctx, t); err != nil {
			return err
		}
	}
	if bk := b.bucket(now); bk > 0 {
		if err := b.submit(ctx, &expireReq{before: bk - 1}); err != nil {
			return err
		}
	}
	return b.barrier(ctx)
}

// retainFrom returns the oldest seq the channel should keep: past the
// count limit, and past every publication older than the age limit.
func (b *Broker) retainFrom(channel string, head, oldest uint64, now int64, r herald.Retention) (uint64, error) {
	to := oldest
	if n := r.Count; head+1 >= n && head+1-n > to {
		to = head + 1 - n
	}
	if to > head || r.Age <= 0 {
		return to, nil
	}
	cutoff := now - r.Age.Milliseconds()
	// Times never decrease with seq: binary-search the first publication
	// at or after the cutoff in [to, head]. Most channels stop at the
	// first probe.
	older := func(seq uint64) (bool, error) {
		v, closer, err := b.db.Get(messageKey(nil, channel, seq))
		if errors.Is(err, pebble.ErrNotFound) {
			return true, nil // already trimmed
		}
		if err != nil {
			return false, fmt.Errorf("membroker: retention %s: %w", channel, err)
		}
		defer closer.Close()
		t, err := decodeTime(v)
		if err != nil {
			return false, fmt.Errorf("membroker: retention %s seq %d: %w", channel, seq, err)
		}
		return t < cutoff, nil
	}
	if o, err := older(to); err != nil || !o {
		return to, err
	}
	lo, hi := to+1, head+1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		o, err := older(mid)
		if err != nil {
			return to, err
		}
		if o {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// barrier returns once everything submitted before it is committed.
func (b *Broker) barrier(ctx context.Context) error {
	r := &barrierReq{done: make(chan struct{})}
	if err := b.submit(ctx, r); err != nil {
		return err
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type barrierReq struct{ done chan struct{} }

func (r *barrierReq) fail(error) { close(r.done) }
