package redisbroker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald"
)

// subscription is one channel this node receives: a goroutine that keeps
// a (S)SUBSCRIBE in place through reconnects, and a queue that a drainer
// goroutine, started when there is work, hands to the event handler.
type subscription struct {
	b       *Broker
	channel string
	keys    keys

	// refs counts the Subscribe calls not undone yet, and stopping says
	// refs fell to zero and the subscription is ending; b.subMu guards
	// both.
	refs     int
	stopping bool

	// ctx is canceled when the subscription stops or the broker closes.
	ctx    context.Context
	cancel context.CancelFunc
	// ready is closed on the server's first confirmation.
	ready chan struct{}
	// confirmations counts the server's confirmations: the first is the
	// subscription, each later one a resubscription after a reconnect.
	confirmations atomic.Int64
	// done is closed once the subscription's goroutines have ended and
	// the server was told to unsubscribe.
	done chan struct{}

	// mu guards queue, draining and ended.
	mu       sync.Mutex
	queue    []item
	draining bool // a drainer goroutine is running
	ended    bool // no drainer may start any more
	drainers sync.WaitGroup

	// The fields below belong to the drainer; there is one at a time, and
	// mu hands them from one to the next.
	last    uint64 // the last seq delivered (or known to be before Subscribe)
	started bool   // last is known
	out     []*herald.Publication
}

type itemKind uint8

const (
	itemPub       itemKind = iota // a publication received live
	itemBaseline                  // the head read when Subscribe returned
	itemCatchUp                   // resubscribed: read what was missed
	itemEphemeral                 // an ephemeral message received live
)

type item struct {
	kind itemKind
	pub  *herald.Publication
	seq  uint64
	data []byte // itemEphemeral's message
}

const (
	fillPage     = 500 // stream entries read per XRANGE
	maxDelivery  = 512 // publications per HandlePublications call
	unsubTimeout = 5 * time.Second
)

// Subscribe implements herald.Broker. It returns once the server has
// confirmed the subscription and the channel's head was read: what is
// stored afterwards is delivered, and what was stored before it may be
// (the hub reads it from History).
func (b *Broker) Subscribe(ctx context.Context, channel string) error {
	var s *subscription
	for s == nil {
		b.subMu.Lock()
		if b.closed.Load() {
			b.subMu.Unlock()
			return herald.ErrClosed
		}
		old := b.subs[channel]
		if old != nil && old.stopping {
			// The server must forget the old subscription before the
			// new one is made, or its UNSUBSCRIBE would end both.
			b.subMu.Unlock()
			select {
			case <-old.done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s = old
		if s == nil {
			s = b.newSubscription(channel)
			b.subs[channel] = s
			b.loops.Add(1)
			go s.receive()
		}
		s.refs++
		b.subMu.Unlock()
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		b.release(s)
		return ctx.Err()
	case <-s.done:
		return herald.ErrClosed
	}
	head, err := b.readHead(ctx, s.keys)
	if err != nil {
		b.release(s)
		return b.mapErr(fmt.Errorf("redisbroker: subscribe %s: %w", channel, err))
	}
	s.enqueue(item{kind: itemBaseline, seq: head})
	return nil
}

// Unsubscribe implements herald.Broker. The last Unsubscribe of a
// channel returns without waiting for the server.
func (b *Broker) Unsubscribe(_ context.Context, channel string) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	b.subMu.Lock()
	s := b.subs[channel]
	b.subMu.Unlock()
	if s == nil {
		return nil
	}
	b.release(s)
	return nil
}

// release undoes one Subscribe of s, stopping it after the last.
func (b *Broker) release(s *subscription) {
	b.subMu.Lock()
	if s.refs == 0 || s.stopping {
		b.subMu.Unlock()
		return
	}
	s.refs--
	stop := s.refs == 0
	if stop {
		s.stopping = true
	}
	b.subMu.Unlock()
	if stop {
		s.cancel()
	}
}

func (b *Broker) readHead(ctx context.Context, k keys) (uint64, error) {
	v, err := b.client.Do(ctx, b.client.B().Hget().Key(k.meta).Field("h").Build().Pin()).AsUint64()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	return v, err
}

func (b *Broker) newSubscription(channel string) *subscription {
	s := &subscription{
		b:       b,
		channel: channel,
		keys:    b.keys(channel),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(b.ctx)
	return s
}

func (s *subscription) subscribeCmd() rueidis.Completed {
	if s.b.spublish {
		return s.b.client.B().Ssubscribe().Channel(s.keys.pubsub).Build().Pin()
	}
	return s.b.client.B().Subscribe().Channel(s.keys.pubsub).Build().Pin()
}

func (s *subscription) unsubscribeCmd() rueidis.Completed {
	if s.b.spublish {
		return s.b.client.B().Sunsubscribe().Channel(s.keys.pubsub).Build().Pin()
	}
	return s.b.client.B().Unsubscribe().Channel(s.keys.pubsub).Build().Pin()
}

// receive keeps the subscription in place until it stops: rueidis
// resubscribes by itself after many faults, and where Receive returns
// instead, it is called again. Either way the server confirms again, and
// the confirmation hook queues a catch-up from the stream.
func (s *subscription) receive() {
	b := s.b
	defer b.loops.Done()
	ctx := rueidis.WithOnSubscriptionHook(s.ctx, s.onSubscription)
	backoff := 50 * time.Millisecond
	for {
		before := s.confirmations.Load()
		err := b.client.Receive(ctx, s.subscribeCmd(), s.onMessage)
		if s.ctx.Err() != nil {
			break
		}
		if s.confirmations.Load() != before {
			backoff = 50 * time.Millisecond
		}
		if err != nil {
			b.log.Debug("subscription lost; resubscribing", "channel", s.channel, "err", err, "in", backoff)
		}
		if !sleep(s.ctx, backoff) {
			break
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	// Receive has dropped its end of the subscription; tell the server,
	// on the connection that carries the node's pub/sub, unless the
	// connections are closing anyway.
	if !b.closed.Load() {
		ctx, cancel := context.WithTimeout(b.ctx, unsubTimeout)
		if err := b.client.Do(ctx, s.unsubscribeCmd()).Error(); err != nil && !b.closed.Load() {
			b.log.Debug("unsubscribe failed", "channel", s.channel, "err", err)
		}
		cancel()
	}
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.drainers.Wait()
	b.subMu.Lock()
	if b.subs[s.channel] == s {
		delete(b.subs, s.channel)
	}
	b.subMu.Unlock()
	close(s.done)
}

// onSubscription runs on the client's reading goroutine: it must not
// block.
func (s *subscription) onSubscription(ps rueidis.PubSubSubscription) {
	if ps.Channel != s.keys.pubsub || (ps.Kind != "ssubscribe" && ps.Kind != "subscribe") {
		return
	}
	if s.confirmations.Add(1) == 1 {
		close(s.ready)
		return
	}
	s.enqueue(item{kind: itemCatchUp})
}

// onMessage runs on the Receive goroutine; while it runs, the client
// buffers what the connection brings, so it only queues. Ephemeral
// messages take the queue too, so that the handler is called for the
// channel by the one drainer, whichever kind it is given.
func (s *subscription) onMessage(m rueidis.PubSubMessage) {
	p, data, err := decodePubSub(m.Message)
	if err != nil {
		// The gap it leaves is filled from the stream, or reported.
		s.b.log.Error("undecodable message", "channel", s.channel, "err", err)
		return
	}
	if p == nil {
		s.enqueue(item{kind: itemEphemeral, data: data})
		return
	}
	s.enqueue(item{kind: itemPub, pub: p})
}

func (s *subscription) enqueue(it item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.queue = append(s.queue, it)
	if !s.draining {
		s.draining = true
		s.drainers.Add(1)
		go s.drain()
	}
}

// drain hands what is queued to the event handler, until the queue is
// empty.
func (s *subscription) drain() {
	defer s.drainers.Done()
	for {
		s.mu.Lock()
		items := s.queue
		s.queue = nil
		if len(items) == 0 || s.ctx.Err() != nil {
			s.draining = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, it := range items {
			s.handle(it)
		}
		s.flush()
	}
}

// handle delivers each seq once, in order: a publication that skips
// ahead of the last one delivered is preceded by what the stream holds in
// between.
func (s *subscription) handle(it item) {
	switch it.kind {
	case itemPub:
		p := it.pub
		if !s.started {
			// The first delivery may start anywhere after Subscribe.
			s.started, s.last = true, p.Seq-1
		}
		if p.Seq <= s.last {
			return
		}
		if p.Seq > s.last+1 {
			s.fill(p.Seq - 1)
		}
		// If the stream no longer held the gap (retention), skip ahead:
		// the hub finds the gap and recovers or reports it.
		if p.Seq > s.last {
			s.emit(p)
		}
	case itemBaseline:
		if !s.started {
			s.started, s.last = true, it.seq
		}
	case itemCatchUp:
		if !s.started {
			return
		}
		if head, err := s.b.readHead(s.ctx, s.keys); err == nil && head < s.last {
			// The server lost data (a restart without an append-only
			// file, a failover): the seqs after head will be given
			// again, and must be delivered then.
			s.b.log.Error("channel head went back: the server lost acknowledged publications",
				"channel", s.channel, "head", head, "delivered", s.last)
			s.last = head
		}
		s.fill(0)
	case itemEphemeral:
		// What came before it goes first; an ephemeral message has no
		// seq, and nothing to do with the delivered ones.
		s.flush()
		if hb := s.b.handler.Load(); hb != nil && hb.eph != nil && s.ctx.Err() == nil {
			hb.eph.HandleEphemeral(s.channel, it.data)
		}
	}
}

// fill delivers what the stream holds after s.last, up to seq to (0: to
// the end). It retries through errors until the subscription stops.
func (s *subscription) fill(to uint64) {
	b := s.b
	backoff := 50 * time.Millisecond
	for s.ctx.Err() == nil {
		if to != 0 && s.last >= to {
			return
		}
		end := "+"
		if to != 0 {
			end = formatUint(to) + "-0"
		}
		cmd := b.client.B().Xrange().Key(s.keys.stream).Start(formatUint(s.last+1) + "-0").End(end).Count(fillPage).Build().Pin()
		entries, err := b.client.Do(s.ctx, cmd).AsXRange()
		if err != nil {
			if s.ctx.Err() == nil {
				b.log.Warn("catching up failed; retrying", "channel", s.channel, "after", s.last, "err", err)
				sleep(s.ctx, backoff)
				backoff = min(2*backoff, 2*time.Second)
			}
			continue
		}
		for _, e := range entries {
			p, err := decodeEntry(e.ID, e.FieldValues)
			if err != nil {
				b.log.Error("undecodable stream entry skipped", "channel", s.channel, "id", e.ID, "err", err)
				if seq, err := entrySeq(e.ID); err == nil && seq > s.last {
					s.last = seq
				}
				continue
			}
			if p.Seq > s.last {
				s.emit(p)
			}
		}
		if len(entries) < fillPage {
			return
		}
	}
}

func (s *subscription) emit(p *herald.Publication) {
	s.out = append(s.out, p)
	s.last = p.Seq
	if len(s.out) >= maxDelivery {
		s.flush()
	}
}

func (s *subscription) flush() {
	if len(s.out) == 0 {
		return
	}
	if hb := s.b.handler.Load(); hb != nil && s.ctx.Err() == nil {
		hb.h.HandlePublications(s.channel, s.out)
	}
	s.out = nil
}

// sleep waits d or until ctx is done, and says whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
