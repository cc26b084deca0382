package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
)

// Retention: streams have no MaxAge and no per-subject limit, because
// either would, sooner or later, remove a channel's newest message, and
// with it the channel's head: the next publish would get seq 1 again.
// History hides at once what a channel's retention no longer shows, and
// RunRetention removes it later, per channel, with a purge of the
// subject below the first message to keep. It keeps:
//
//   - the channel's newest message, always (it holds the head);
//   - what History shows (within Count and Age);
//   - everything stored within the dedupe window (plus a margin for
//     clock skew), even in channels without history: a retry inside the
//     window is answered with the first publication's seq and time, read
//     from the stream, and after a server restart JetStream rebuilds its
//     dedupe index from the stored messages.
//
// All three are suffixes of the channel's messages, so one search finds
// where to purge. Each node tries every minute, and runs it unless
// another node did less than a lease TTL ago (a key created in the lease
// bucket, which expires with the bucket's TTL, serves as the lock);
// RunRetention runs it at once.

// retentionLockKey is the lease-bucket key that a node running periodic
// retention holds; lease keys all contain a dot, so it is never one.
const retentionLockKey = "retention"

// RunRetention applies retention now to every channel of this broker's
// prefix and returns when it is done (brokertest.Retainer).
func (b *Broker) RunRetention(ctx context.Context) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	now := time.Now()
	lister := b.js.StreamNames(ctx, jetstream.WithStreamListSubject(b.names.prefix+".>"))
	var names []string
	for name := range lister.Name() {
		if strings.HasPrefix(name, b.names.streamPrefix) {
			names = append(names, name)
		}
	}
	if err := lister.Err(); err != nil {
		return b.mapErr(fmt.Errorf("natsbroker: retention: list streams: %w", err))
	}
	var errs []error
	for _, name := range names {
		if err := b.retainStream(ctx, name, now); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, err)
		}
	}
	return b.mapErr(errors.Join(errs...))
}

func (b *Broker) retainStream(ctx context.Context, name string, now time.Time) error {
	st, err := b.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("natsbroker: retention of %s: %w", name, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(b.names.prefix+".>"))
	if err != nil {
		return fmt.Errorf("natsbroker: retention of %s: %w", name, err)
	}
	// Keep what the stream's own window dedupes against, should it be
	// longer than ours (another node's DedupeWindow).
	window := max(info.Config.Duplicates, b.cfg.DedupeWindow)
	var errs []error
	for subject, n := range info.State.Subjects {
		if n < 2 {
			continue // the newest message is always kept
		}
		channel, ok := b.names.channel(subject)
		if !ok {
			continue
		}
		if err := b.retainChannel(ctx, st, channel, subject, now, window); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("natsbroker: retention of %s: %w", channel, err))
		}
	}
	return errors.Join(errs...)
}

// retainChannel purges what retention no longer keeps of one channel.
func (b *Broker) retainChannel(ctx context.Context, st jetstream.Stream, channel, subject string, now time.Time, window time.Duration) error {
	last, ok, err := lastMsg(ctx, st, subject)
	if err != nil || !ok {
		return err
	}
	first, ok, err := nextMsg(ctx, st, subject, 1)
	if err != nil || !ok || first.sseq >= last.sseq {
		return err
	}
	ret := b.cfg.RetentionFor(channel)
	dedupeFrom := now.Add(-window - b.cfg.skewMargin)
	cutoff := now.UnixMilli() - ret.Age.Milliseconds()
	keep := func(m stored) bool {
		switch {
		case m.sseq >= last.sseq, !m.at.Before(dedupeFrom):
			return true
		case ret.Count == 0 || last.seq-m.seq >= ret.Count:
			return false
		default:
			return ret.Age <= 0 || m.time >= cutoff
		}
	}
	if keep(first) {
		return nil
	}
	from, err := search(ctx, st, subject, first.sseq+1, last, 0, keep)
	if err != nil {
		return err
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(from.sseq)); err != nil {
		return fmt.Errorf("purge below stream seq %d: %w", from.sseq, err)
	}
	return nil
}

// retentionLoop runs retention every retentionInterval on whichever node
// gets there first.
func (b *Broker) retentionLoop() {
	defer b.loops.Done()
	t := time.NewTicker(b.cfg.retentionInterval)
	defer t.Stop()
	for {
		select {
		case <-b.life.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(b.life, b.leaseTTL)
		_, err := b.leases.Create(ctx, retentionLockKey, []byte(b.leaseKey))
		cancel()
		if err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) && b.life.Err() == nil {
				b.log.Warn("taking the retention lock", "err", err)
			}
			continue
		}
		if err := b.RunRetention(b.life); err != nil && b.life.Err() == nil {
			b.log.Error("retention failed", "err", err)
		}
	}
}
