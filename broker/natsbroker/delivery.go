package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Delivery: a node reads each namespace it has subscribers in through one
// consumer on the namespace's stream (a reader), which the server sends
// every publication of the namespace to, in stream order, and delivers
// the publications of the channels subscribed on this node.
//
// One consumer per namespace, not per channel: a node subscribed to
// thousands of channels of a namespace costs the server one consumer,
// and subscribing to one more channel costs nothing but a map entry. The
// price is that a node receives its namespaces' publications of channels
// nobody on it subscribed to. (nats-server 2.9 has no consumers with
// several filter subjects, so a consumer per namespace cannot be
// narrowed to the subscribed channels; per-channel consumers would cost
// a server round trip on every Subscribe and a consumer per channel and
// node.)
//
// A reader is an ordered consumer of its own making: an ephemeral,
// unacknowledged pull consumer read by one goroutine, which remembers
// the stream sequence after the last message it handled. When the
// consumer's own sequence skips (the client dropped messages), its
// heartbeats stop (the connection or the server went away and did not
// come back in time) or it is gone (a server restart), the reader makes
// a new one starting at that sequence, with short timeouts and quick
// retries. That is how a node catches up on what was stored while it
// was cut off. (nats.go's ordered consumer does the same, but retries a
// consumer creation lost in a reconnect only after 10 seconds.) On top
// of it the reader keeps, per subscribed channel, the last seq it
// delivered: it drops what it delivered already and, should a seq be
// missing, reads the missing ones from the stream before going on.

const (
	// readerLinger is how long a reader whose namespace has no
	// subscribed channel left keeps running, in case one comes back.
	readerLinger = time.Minute
	// maxFill bounds the publications read from the stream to fill one
	// gap; past it the reader skips ahead, as the Broker contract allows
	// after a fault, and the hub recovers from History.
	maxFill = 1000
	// fillTimeout bounds the reads that fill one gap.
	fillTimeout = 10 * time.Second
	// readerHeartbeat is how often the server tells an idle reader that
	// its pull request is alive; two missed, and the reader makes a new
	// consumer.
	readerHeartbeat = 2 * time.Second
	// readBatch is the most messages a reader hands over in one go.
	readBatch = 256
	// readerCreateTimeout bounds one attempt to make a reader's consumer.
	readerCreateTimeout = 3 * time.Second
	// readerInactive is how long the server keeps a reader's consumer
	// that nobody pulls from (its node died).
	readerInactive = 2 * time.Minute
)

var (
	errConsumerGap = errors.New("natsbroker: consumer sequence gap")
	errReconnected = errors.New("natsbroker: reconnected")
)

// subState is a channel subscribed on this node.
type subState struct {
	count int     // Subscribe calls not undone; b.subMu must be held
	r     *reader // the reader that delivers it; set once

	// These belong to r's delivery; r.mu must be held.
	known    bool   // whether last is set: the first delivery sets it
	last     uint64 // the seq delivered last
	lastSSeq uint64 // its stream sequence
}

// reader delivers one namespace.
type reader struct {
	b    *Broker
	ns   string
	name string // consumer name prefix

	// nsubs and idleSince are guarded by b.subMu.
	nsubs     int // subscribed channels of the namespace
	idleSince time.Time

	// startMu serializes start and stop, and guards started and
	// stopped.
	startMu sync.Mutex
	started bool
	stopped bool
	// st is the namespace's stream, set by start before the loop runs;
	// the loop may replace it (with mu held) when it is made anew.
	st jetstream.Stream

	quit chan struct{} // closed by stop
	done chan struct{} // closed when the loop has ended
	kick chan struct{} // a reconnect asks for a new consumer (1 buffered)

	// mu is held while a message is handled.
	mu sync.Mutex

	// eph is the core subscription to the namespace's ephemeral
	// messages (ephemeral.go), made by start and guarded by startMu.
	// ephMu is held while one is handled; ephStopped, set by stop with
	// ephMu held, keeps the handler from being called afterwards.
	eph        *nats.Subscription
	ephMu      sync.Mutex
	ephStopped bool

	// serial numbers the loop's consumers; the loop owns it.
	serial int
}

// Subscribe implements herald.Broker. It returns once the namespace's
// reader exists on the server, positioned no later than the stream's end
// at the time of the call: everything stored afterwards is delivered.
func (b *Broker) Subscribe(ctx context.Context, channel string) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	ns := protocol.Namespace(channel)
	b.subMu.Lock()
	if b.closed.Load() {
		b.subMu.Unlock()
		return herald.ErrClosed
	}
	r := b.readers[ns]
	if r == nil {
		r = &reader{b: b, ns: ns, name: b.names.prefix + "_" + randomHex(6), kick: make(chan struct{}, 1)}
		b.readers[ns] = r
	}
	s := b.subs[channel]
	if s == nil {
		s = &subState{r: r}
		b.subs[channel] = s
		r.nsubs++
	}
	s.count++
	b.subMu.Unlock()
	if err := b.retry(ctx, attemptTimeout, r.start); err != nil {
		b.unsubscribe(channel)
		return b.mapErr(fmt.Errorf("natsbroker: subscribe %s: %w", channel, err))
	}
	return nil
}

// Unsubscribe implements herald.Broker.
func (b *Broker) Unsubscribe(_ context.Context, channel string) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	b.unsubscribe(channel)
	return nil
}

func (b *Broker) unsubscribe(channel string) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	s := b.subs[channel]
	if s == nil {
		return
	}
	if s.count--; s.count > 0 {
		return
	}
	delete(b.subs, channel)
	if s.r.nsubs--; s.r.nsubs == 0 {
		s.r.idleSince = time.Now()
	}
}

// reconnected ends the requests in flight (attempt.go) and has every
// reader make a new consumer: after a server restart the old ones are
// gone, and the pull requests of those that remain may be lost, which
// only heartbeats would tell, seconds later.
func (b *Broker) reconnected() {
	b.interruptAttempts()
	b.subMu.Lock()
	defer b.subMu.Unlock()
	for _, r := range b.readers {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// stopIdleReaders stops the readers of namespaces that have had no
// subscribed channel for readerLinger.
func (b *Broker) stopIdleReaders() {
	var idle []*reader
	b.subMu.Lock()
	for ns, r := range b.readers {
		if r.nsubs == 0 && time.Since(r.idleSince) > readerLinger {
			delete(b.readers, ns)
			idle = append(idle, r)
		}
	}
	b.subMu.Unlock()
	for _, r := range idle {
		// In the background: stopping can take a consumer deletion's
		// round trip, and the lease loop that calls this must not fall
		// behind. The lease loop's own count keeps loops above zero.
		b.loops.Add(1)
		go func() {
			defer b.loops.Done()
			r.stop()
		}()
	}
}

// stopReaders stops every reader, for Close. b.closed is set, so no
// Subscribe makes new ones.
func (b *Broker) stopReaders() {
	b.subMu.Lock()
	rs := make([]*reader, 0, len(b.readers))
	for _, r := range b.readers {
		rs = append(rs, r)
	}
	clear(b.readers)
	b.subMu.Unlock()
	for _, r := range rs {
		r.stop()
	}
}

// start makes the reader's first consumer and starts its loop, unless
// it runs already.
func (r *reader) start(ctx context.Context) error {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	switch {
	case r.stopped:
		return herald.ErrClosed
	case r.started:
		return nil
	}
	// The ephemeral subscription goes first: the server has it by the
	// time it answers the requests below, on the same connection, so
	// that what is broadcast after Subscribe returns reaches this node.
	if r.eph == nil {
		sub, err := r.b.nc.Subscribe(r.b.names.ephemeralFilter(r.ns), r.onEphemeral)
		if err != nil {
			return fmt.Errorf("ephemeral subscription: %w", err)
		}
		r.eph = sub
	}
	st, err := r.b.stream(ctx, r.ns, true)
	if err != nil {
		return err
	}
	// Start after what the stream holds now: everything stored after
	// Subscribe returns is delivered, whenever the consumer gets there.
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream info: %w", err)
	}
	r.st = st
	next := info.State.LastSeq + 1
	cons, err := r.create(ctx, next)
	if err != nil {
		return err
	}
	r.started = true
	r.quit, r.done = make(chan struct{}), make(chan struct{})
	go r.loop(cons, next)
	return nil
}

// stop ends the reader; no delivery is made after it returns.
func (r *reader) stop() {
	r.startMu.Lock()
	r.stopped = true
	started, eph := r.started, r.eph
	r.startMu.Unlock()
	if eph != nil {
		// An error means the connection is closed, and the
		// subscription with it.
		_ = eph.Unsubscribe()
	}
	r.ephMu.Lock()
	r.ephStopped = true
	r.ephMu.Unlock()
	if started {
		close(r.quit)
		<-r.done
	}
}

// create makes a consumer delivering the namespace from stream sequence
// next on.
func (r *reader) create(ctx context.Context, next uint64) (jetstream.Consumer, error) {
	r.serial++
	cons, err := r.st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Name:              fmt.Sprintf("%s_%d", r.name, r.serial),
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       next,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: readerInactive,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	return cons, nil
}

// loop reads the namespace until stop, making a new consumer whenever
// the current one fails.
func (r *reader) loop(cons jetstream.Consumer, next uint64) {
	defer close(r.done)
	b := r.b
	for {
		err := r.read(cons, &next)
		r.remove(cons)
		if r.quitting() {
			return
		}
		select {
		case <-r.kick: // this restart serves it
		default:
		}
		if errors.Is(err, errReconnected) {
			b.log.Info("namespace reader restarts after a reconnect", "namespace", r.ns, "from_stream_seq", next)
		} else {
			b.log.Warn("namespace reader restarts", "namespace", r.ns, "from_stream_seq", next, "err", err)
		}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(b.life, readerCreateTimeout)
			next, err = r.rewind(ctx, next)
			if streamGone(err) {
				// Subscribers wait for what is published next: make
				// the stream again rather than wait for a publisher
				// to.
				if st, serr := b.renewStream(ctx, r.ns); serr == nil {
					r.mu.Lock()
					r.st = st
					r.mu.Unlock()
					next, err = r.rewind(ctx, next)
				}
			}
			if err == nil {
				cons, err = r.create(ctx, next)
			}
			cancel()
			if err == nil {
				break
			}
			if attempt > 0 && attempt%10 == 0 {
				b.log.Warn("namespace reader cannot make its consumer", "namespace", r.ns, "err", err)
			}
			t := time.NewTimer(min(100*time.Millisecond<<min(attempt, 4), 2*time.Second))
			select {
			case <-r.quit:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// rewind returns where a new consumer starts: next, unless the stream
// ends before it, which means the stream was made anew (a memory-storage
// server restarted); then its start, and the channels' last seqs are
// forgotten, since seqs began at 1 again. Without the stream's state no
// consumer is made: it might wait for a sequence the stream never
// reaches.
func (r *reader) rewind(ctx context.Context, next uint64) (uint64, error) {
	info, err := r.st.Info(ctx)
	if err != nil {
		return next, err
	}
	if info.State.LastSeq+1 >= next {
		return next, nil
	}
	r.b.log.Warn("the namespace's stream is shorter than what was read from it: it was made anew, and what it held is lost",
		"namespace", r.ns, "stream_last_seq", info.State.LastSeq, "read_up_to", next-1)
	r.mu.Lock()
	r.b.subMu.Lock()
	for _, s := range r.b.subs {
		if s.r == r {
			s.known = false
		}
	}
	r.b.subMu.Unlock()
	r.mu.Unlock()
	return max(info.State.FirstSeq, 1), nil
}

func (r *reader) quitting() bool {
	select {
	case <-r.quit:
		return true
	default:
		return false
	}
}

// read hands the consumer's messages to the handler until it fails or
// the reader stops; next is the stream sequence after the last one
// handled. A feeder goroutine takes messages off the consumer, and read
// hands over whatever has piled up in one go (up to readBatch), so that a
// channel's consecutive publications reach the hub in one call: a node
// that writes each message to thousands of sockets then coalesces a
// backlog into one write per socket instead of falling behind.
func (r *reader) read(cons jetstream.Consumer, next *uint64) error {
	it, err := cons.Messages(jetstream.PullHeartbeat(readerHeartbeat), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	type fed struct {
		msg jetstream.Msg
		err error
	}
	feed := make(chan fed, readBatch)
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			select {
			case feed <- fed{msg, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel(nil)
		it.Stop()
		<-feederDone
	}()
	go func() {
		select {
		case <-r.quit:
			cancel(nil)
		case <-r.kick:
			cancel(errReconnected)
		case <-ctx.Done():
		}
	}()
	fail := func(err error) error {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		return err
	}
	var dseq uint64 // the consumer's sequence of the last message
	batch := make([]delivery, 0, readBatch)
	for {
		var f fed
		select {
		case f = <-feed:
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		batch = batch[:0]
		for {
			if f.err != nil {
				r.handle(batch, next)
				return fail(f.err)
			}
			md, err := f.msg.Metadata()
			if err != nil {
				r.handle(batch, next)
				return err
			}
			if md.Sequence.Consumer != dseq+1 {
				r.handle(batch, next)
				return fmt.Errorf("%w: %d after %d", errConsumerGap, md.Sequence.Consumer, dseq)
			}
			dseq = md.Sequence.Consumer
			batch = append(batch, delivery{f.msg, md.Sequence.Stream})
			if len(batch) == readBatch {
				break
			}
			var more bool
			select {
			case f = <-feed:
				more = true
			default:
			}
			if !more {
				break
			}
		}
		r.handle(batch, next)
	}
}

// delivery is a message of the namespace's stream and its sequence there.
type delivery struct {
	msg  jetstream.Msg
	sseq uint64
}

// remove deletes a consumer the reader is done with, rather than leave
// it to the server's inactivity threshold.
func (r *reader) remove(cons jetstream.Consumer) {
	if !r.b.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := r.st.DeleteConsumer(ctx, cons.CachedInfo().Name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		r.b.log.Debug("deleting a reader's consumer", "namespace", r.ns, "err", err)
	}
}

// handle delivers the messages of the namespace whose channels are
// subscribed here, a channel's consecutive publications in one call, and
// moves next past them.
func (r *reader) handle(ds []delivery, next *uint64) {
	if len(ds) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.b
	hb := b.handler.Load()
	var (
		run     []*herald.Publication
		runChan string
	)
	flush := func() {
		if len(run) > 0 && hb != nil {
			hb.h.HandlePublications(runChan, run)
		}
		run = nil
	}
	for _, d := range ds {
		*next = d.sseq + 1
		channel, ok := b.names.channel(d.msg.Subject())
		if !ok {
			continue
		}
		b.subMu.Lock()
		s := b.subs[channel]
		b.subMu.Unlock()
		if s == nil || s.r != r || hb == nil {
			continue
		}
		p, err := decodePublication(d.msg.Headers(), d.msg.Data())
		if err != nil {
			b.log.Error("skipping an undecodable publication", "channel", channel, "stream_seq", d.sseq, "err", err)
			continue
		}
		if s.known && p.Seq <= s.last {
			continue
		}
		if channel != runChan {
			flush()
			runChan = channel
		}
		if s.known && p.Seq > s.last+1 {
			run = append(run, r.fill(s, channel, p.Seq)...)
		}
		run = append(run, p)
		s.known, s.last, s.lastSSeq = true, p.Seq, d.sseq
	}
	flush()
}

// fill reads from the stream the channel's publications after the last
// delivered and before seq upTo. r.mu must be held.
func (r *reader) fill(s *subState, channel string, upTo uint64) []*herald.Publication {
	b := r.b
	ctx, cancel := context.WithTimeout(b.life, fillTimeout)
	defer cancel()
	subject := b.names.subject(channel)
	var out []*herald.Publication
	want, from := s.last+1, s.lastSSeq+1
	for want < upTo && len(out) < maxFill {
		m, ok, err := nextMsg(ctx, r.st, subject, from)
		if err != nil {
			b.log.Warn("filling a delivery gap", "channel", channel, "from", want, "err", err)
			break
		}
		if !ok || m.seq >= upTo {
			break
		}
		if m.seq >= want {
			p, err := m.publication()
			if err != nil {
				b.log.Error("skipping an undecodable publication", "channel", channel, "err", err)
			} else {
				out = append(out, p)
			}
			want = m.seq + 1
		}
		from = m.sseq + 1
	}
	if want < upTo {
		b.log.Warn("delivery skips ahead", "channel", channel, "missing_from", want, "to", upTo)
	}
	return out
}
