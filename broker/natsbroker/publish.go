package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Sequence assignment is optimistic: a publish reads (or remembers) the
// channel's newest publication, publishes seq+1 expecting that one to be
// still the subject's last (Nats-Expected-Last-Subject-Sequence), and on
// "wrong last sequence" reads again and retries. JetStream checks the
// expectation and stores atomically, so two nodes never store the same
// seq, and since the expectation is the subject's last message, seqs
// follow the stream order without gaps.
//
// Within a node, publishes to one channel take turns (seqState.sem), so
// they never conflict with each other and the node remembers the head it
// wrote: one round trip per publish. Only nodes publishing to the same
// channel at the same moment conflict, and pay a read and a retry.

const (
	// maxConflicts bounds the tries of a publish that keeps losing the
	// race for the next seq to other nodes.
	maxConflicts = 100
	// maxSeqStates bounds the channels whose head a node remembers
	// between publishes.
	maxSeqStates = 10_000
	// batchParallel caps the channels a batch publishes to at once.
	batchParallel = 8
)

// seqState is a node's view of a channel's head, for publishing.
type seqState struct {
	// sem is held by the publish in flight on the channel.
	sem  chan struct{}
	refs int // publishes holding or waiting for sem; b.seqMu must be held

	// These belong to the holder of sem. known is false until read from
	// the stream, and again after any failure.
	known bool
	head  uint64 // the channel's newest seq
	time  int64  // its time
	sseq  uint64 // its stream seq: the expected last subject sequence
}

// Publish implements herald.Broker.
func (b *Broker) Publish(ctx context.Context, channel string, p *herald.Publication) (herald.PublishResult, error) {
	if b.closed.Load() {
		return herald.PublishResult{}, herald.ErrClosed
	}
	if err := checkChannel(channel); err != nil {
		return herald.PublishResult{}, err
	}
	res, err := b.publish(ctx, channel, p)
	return res, b.mapErr(err)
}

// PublishBatch implements herald.BatchPublisher. Requests to one channel
// are published one after the other, in order; different channels go
// ahead in parallel.
func (b *Broker) PublishBatch(ctx context.Context, reqs []herald.PublishRequest) []herald.PublishResponse {
	out := make([]herald.PublishResponse, len(reqs))
	byChannel := make(map[string][]int)
	var order []string
	for i, r := range reqs {
		if _, ok := byChannel[r.Channel]; !ok {
			order = append(order, r.Channel)
		}
		byChannel[r.Channel] = append(byChannel[r.Channel], i)
	}
	sem := make(chan struct{}, batchParallel)
	var wg sync.WaitGroup
	for _, ch := range order {
		idx := byChannel[ch]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, i := range idx {
				res, err := b.Publish(ctx, ch, reqs[i].Publication)
				out[i] = herald.PublishResponse{PublishResult: res, Err: err}
			}
		}()
	}
	wg.Wait()
	return out
}

func (b *Broker) publish(ctx context.Context, channel string, p *herald.Publication) (herald.PublishResult, error) {
	ns := protocol.Namespace(channel)
	var st jetstream.Stream
	err := b.retry(ctx, attemptTimeout, func(ctx context.Context) (err error) {
		st, err = b.stream(ctx, ns, true)
		return err
	})
	if err != nil {
		return herald.PublishResult{}, err
	}
	s, err := b.lockSeq(ctx, channel)
	if err != nil {
		return herald.PublishResult{}, err
	}
	defer b.unlockSeq(channel, s)

	subject := b.names.subject(channel)
	id := msgID(channel, p.ID)
	recreated, conflicts := false, 0
	for try := 1; ; try++ {
		actx, end := b.attempt(ctx, attemptTimeout)
		res, err := b.tryPublish(actx, st, s, channel, subject, id, p)
		end()
		if err == nil {
			return res, nil
		}
		// Whatever failed, the head may have moved: this publish may
		// even be stored, its ack lost. The next try reads the head
		// again, and the msg id makes sure it is stored once.
		s.known = false
		if ctx.Err() != nil {
			return herald.PublishResult{}, fmt.Errorf("natsbroker: publish to %s: %w", channel, err)
		}
		switch {
		case wrongLastSeq(err):
			// Another node stored a publication first (or, on servers
			// that check the expectation before the dedupe window, this
			// is a retry whose first try is stored).
			b.conflicts.Add(1)
			if conflicts++; conflicts >= maxConflicts {
				return herald.PublishResult{}, fmt.Errorf("natsbroker: publish to %s: lost the race for the next seq %d times: %w", channel, conflicts, err)
			}
			if conflicts == 1 {
				continue // the re-read is delay enough
			}
		case streamGone(err):
			// The stream is gone (a memory-storage server restarted) or
			// JetStream is not up yet (a server restarting): make the
			// stream again, once, and otherwise wait for it.
			if !recreated {
				recreated = true
				actx, end := b.attempt(ctx, attemptTimeout)
				nst, err := b.renewStream(actx, ns)
				end()
				if err == nil {
					st = nst
					continue
				}
			}
		case retryable(err):
		default:
			return herald.PublishResult{}, fmt.Errorf("natsbroker: publish to %s (try %d): %w", channel, try, err)
		}
		if err := b.pause(ctx, try); err != nil {
			return herald.PublishResult{}, fmt.Errorf("natsbroker: publish to %s: %w", channel, err)
		}
	}
}

// tryPublish is one try: it reads the head unless it is known, and
// publishes the next seq expecting that head.
func (b *Broker) tryPublish(ctx context.Context, st jetstream.Stream, s *seqState, channel, subject, id string, p *herald.Publication) (herald.PublishResult, error) {
	if !s.known {
		last, ok, err := lastMsg(ctx, st, subject)
		if err != nil {
			return herald.PublishResult{}, fmt.Errorf("read head: %w", err)
		}
		s.head, s.time, s.sseq = 0, 0, 0
		if ok {
			s.head, s.time, s.sseq = last.seq, last.time, last.sseq
		}
		s.known = true
	}
	seq, t := s.head+1, max(time.Now().UnixMilli(), s.time)
	ack, err := b.js.PublishMsg(ctx, encodeMessage(subject, p, seq, t),
		jetstream.WithMsgID(id), jetstream.WithExpectLastSequencePerSubject(s.sseq))
	if err != nil {
		return herald.PublishResult{}, err
	}
	if ack.Duplicate {
		first, err := msgAt(ctx, st, subject, ack.Sequence)
		if err != nil {
			return herald.PublishResult{}, fmt.Errorf("read the first of a duplicate: %w", err)
		}
		return herald.PublishResult{Seq: first.seq, Time: first.time, Duplicate: true}, nil
	}
	s.head, s.time, s.sseq = seq, t, ack.Sequence
	p.Seq, p.Time = seq, t
	return herald.PublishResult{Seq: seq, Time: t}, nil
}

func wrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// lockSeq takes the channel's turn to publish.
func (b *Broker) lockSeq(ctx context.Context, channel string) (*seqState, error) {
	b.seqMu.Lock()
	s := b.seqs[channel]
	if s == nil {
		s = &seqState{sem: make(chan struct{}, 1)}
		b.seqs[channel] = s
	}
	s.refs++
	b.seqMu.Unlock()
	select {
	case s.sem <- struct{}{}:
		return s, nil
	case <-ctx.Done():
		b.releaseSeq(channel, s)
		return nil, ctx.Err()
	}
}

func (b *Broker) unlockSeq(channel string, s *seqState) {
	<-s.sem
	b.releaseSeq(channel, s)
}

func (b *Broker) releaseSeq(channel string, s *seqState) {
	b.seqMu.Lock()
	s.refs--
	if s.refs == 0 && len(b.seqs) > maxSeqStates {
		delete(b.seqs, channel)
	}
	b.seqMu.Unlock()
}
