package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// A channel's publications are its subject's messages in its namespace's
// stream, in stream order, with gapless seqs from the oldest kept to the
// head. Stream sequences are the namespace's, so the stream position of
// a seq is not known without reading: History finds the first one it
// needs by a search over stream sequences (messages.go), whose first
// probe assumes the channel's recent messages are close together, as
// they are when it is the busiest channel of its namespace, and then
// reads forward.

const (
	// directReadMax is the longest range read with one direct get per
	// message; longer ones are fetched through a short-lived consumer.
	directReadMax = 16
	// historyTimeout bounds a History call whose context has no deadline.
	historyTimeout = 10 * time.Second
	// historyAttemptTimeout bounds one try of a History call.
	historyAttemptTimeout = 5 * time.Second
)

// History implements herald.Broker.
//
// Head is the seq of the channel's newest message, which retention never
// removes. Oldest is the first seq that the channel's retention (Count
// and Age, evaluated now) shows, and that is still stored: retention
// removes what it hides in the background, later.
func (b *Broker) History(ctx context.Context, channel string, req herald.HistoryRequest) (herald.History, error) {
	if b.closed.Load() {
		return herald.History{}, herald.ErrClosed
	}
	if err := checkChannel(channel); err != nil {
		return herald.History{}, err
	}
	ctx, cancel := withTimeout(ctx, historyTimeout)
	defer cancel()
	var h herald.History
	err := b.retry(ctx, historyAttemptTimeout, func(ctx context.Context) (err error) {
		h, err = b.history(ctx, channel, req)
		if streamGone(err) {
			// Deleted (the next try finds no stream and so no history),
			// or JetStream is restarting (the next try may find it up).
			b.forgetStream(protocol.Namespace(channel))
		}
		return err
	})
	if err != nil {
		return herald.History{}, b.mapErr(fmt.Errorf("natsbroker: history of %s: %w", channel, err))
	}
	return h, nil
}

func (b *Broker) history(ctx context.Context, channel string, req herald.HistoryRequest) (herald.History, error) {
	st, err := b.stream(ctx, protocol.Namespace(channel), false)
	if errors.Is(err, errNoStream) {
		return herald.History{Oldest: 1}, nil
	}
	if err != nil {
		return herald.History{}, err
	}
	subject := b.names.subject(channel)
	last, ok, err := lastMsg(ctx, st, subject)
	if err != nil {
		return herald.History{}, err
	}
	if !ok {
		return herald.History{Oldest: 1}, nil
	}
	h := herald.History{Head: last.seq}
	oldest, first, err := b.oldest(ctx, st, channel, subject, last)
	if err != nil {
		return herald.History{}, err
	}
	h.Oldest = oldest
	if req.Limit <= 0 || (req.Before == 0 && req.After >= h.Head) || oldest > h.Head {
		return h, nil
	}
	start, end := max(req.After+1, oldest), h.Head // inclusive
	if req.Before > 0 {
		end = min(req.Before-1, h.Head)
		start = oldest
		if end >= uint64(req.Limit) && end-uint64(req.Limit)+1 > start {
			start = end - uint64(req.Limit) + 1
		}
	} else if end-start >= uint64(req.Limit) {
		end = start + uint64(req.Limit) - 1
	}
	if start > end || end == 0 {
		return h, nil
	}
	from := first
	if start > first.seq {
		// Seqs are gapless from first to last, so start is at least
		// last.seq-start stream sequences before last: exactly there
		// when nothing else was published to the namespace meanwhile.
		var guess uint64
		if d := last.seq - start; d < last.sseq {
			guess = last.sseq - d
		}
		from, err = search(ctx, st, subject, first.sseq+1, last, guess,
			func(m stored) bool { return m.seq >= start })
		if err != nil {
			return herald.History{}, err
		}
	}
	if from.seq > end {
		h.Oldest = max(h.Oldest, from.seq) // retention ran meanwhile
		return h, nil
	}
	pubs, err := b.readRange(ctx, st, subject, from, int(end-from.seq+1))
	if err != nil {
		return herald.History{}, err
	}
	if len(pubs) > 0 && pubs[0].Seq > start && req.Before == 0 {
		// Retention removed the start of the range between the reads;
		// say so, so that no caller takes the rest for a gapless range.
		h.Oldest = pubs[0].Seq
	}
	h.Publications = pubs
	return h, nil
}

// oldest returns the first seq the channel shows, given its newest
// message, and the oldest message still stored.
func (b *Broker) oldest(ctx context.Context, st jetstream.Stream, channel, subject string, last stored) (uint64, stored, error) {
	ret := b.cfg.RetentionFor(channel)
	none := last.seq + 1
	if ret.Count == 0 {
		return none, stored{}, nil
	}
	now := time.Now().UnixMilli()
	cutoff := now - ret.Age.Milliseconds()
	if ret.Age > 0 && last.time < cutoff {
		return none, stored{}, nil
	}
	oldest := uint64(1)
	if last.seq >= ret.Count {
		oldest = last.seq - ret.Count + 1
	}
	first, ok, err := nextMsg(ctx, st, subject, 1)
	if err != nil {
		return 0, stored{}, err
	}
	if !ok || first.sseq > last.sseq {
		first = last // retention ran between the reads
	}
	oldest = max(oldest, first.seq)
	if ret.Age > 0 && first.time < cutoff {
		m, err := search(ctx, st, subject, first.sseq+1, last, 0,
			func(m stored) bool { return m.time >= cutoff })
		if err != nil {
			return 0, stored{}, err
		}
		oldest = max(oldest, m.seq)
	}
	return oldest, first, nil
}

// readRange reads up to n publications of subject from from on, stopping
// early at a gap.
func (b *Broker) readRange(ctx context.Context, st jetstream.Stream, subject string, from stored, n int) ([]*herald.Publication, error) {
	p, err := from.publication()
	if err != nil {
		return nil, err
	}
	pubs := make([]*herald.Publication, 1, n)
	pubs[0] = p
	if n == 1 {
		return pubs, nil
	}
	if n > directReadMax {
		return b.fetchRange(ctx, st, subject, from.sseq+1, pubs, n)
	}
	next := from.sseq + 1
	for len(pubs) < n {
		m, ok, err := nextMsg(ctx, st, subject, next)
		if err != nil {
			return nil, err
		}
		if !ok || m.seq != pubs[len(pubs)-1].Seq+1 {
			break
		}
		p, err := m.publication()
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, p)
		next = m.sseq + 1
	}
	return pubs, nil
}

// fetchRange appends to pubs up to n in all, read through an ephemeral
// consumer from stream sequence from on: one batch instead of a round
// trip per message.
func (b *Broker) fetchRange(ctx context.Context, st jetstream.Stream, subject string, from uint64, pubs []*herald.Publication, n int) ([]*herald.Publication, error) {
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute, // in case the delete below is lost
	})
	if err != nil {
		return nil, fmt.Errorf("range consumer: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := st.DeleteConsumer(dctx, cons.CachedInfo().Name); err != nil && !b.closed.Load() {
			b.log.Debug("deleting a range consumer", "err", err)
		}
	}()
	wait := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	// Every message asked for exists (unless retention just removed
	// some), so the fetch returns as soon as they are in.
	batch, err := cons.Fetch(n-len(pubs), jetstream.FetchMaxWait(max(wait, time.Second)))
	if err != nil {
		return nil, fmt.Errorf("range fetch: %w", err)
	}
	var (
		stop   bool // at a gap or a bad message; the rest is drained
		decErr error
	)
	for msg := range batch.Messages() {
		if stop {
			continue
		}
		p, err := decodePublication(msg.Headers(), msg.Data())
		if err != nil {
			decErr, stop = fmt.Errorf("%s: %w", subject, err), true
			continue
		}
		if p.Seq != pubs[len(pubs)-1].Seq+1 {
			stop = true
			continue
		}
		pubs = append(pubs, p)
	}
	if decErr != nil {
		return nil, decErr
	}
	// A fetch cut short returns what came, which is gapless; the caller
	// asks again for the rest.
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && len(pubs) == 1 && n > 1 {
		return nil, fmt.Errorf("range fetch: %w", err)
	}
	return pubs, nil
}
