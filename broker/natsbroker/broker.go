package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
)

// Broker is a Herald broker on NATS JetStream. Create one with New.
type Broker struct {
	cfg   Config
	names names
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream

	// leaseKey is this broker's key in the lease bucket: its node id and
	// a random incarnation.
	leaseKey string
	// presenceDropped is set by DropPresence: the lease is not renewed.
	presenceDropped atomic.Bool
	leaseTTL        time.Duration // the lease bucket's TTL
	leases          jetstream.KeyValue
	presence        jetstream.KeyValue
	presenceStore   jetstream.Stream // the presence bucket's stream, for purges
	maps            jetstream.KeyValue

	handler atomic.Pointer[handlerBox]

	// conflicts counts publishes that lost the race for a seq to another
	// node and retried.
	conflicts atomic.Uint64
	// attempts are the requests in flight; see attempt.go.
	attempts attempts

	// mu guards streams, the namespace streams known to exist.
	mu      sync.Mutex
	streams map[string]jetstream.Stream

	// seqMu guards seqs; see publish.go.
	seqMu sync.Mutex
	seqs  map[string]*seqState

	// subMu guards subs and readers, and the count fields of the
	// subStates and readers in them; see delivery.go. Lock order: a
	// reader's mu, then subMu.
	subMu   sync.Mutex
	subs    map[string]*subState
	readers map[string]*reader

	closed    atomic.Bool
	closeOnce sync.Once
	// life is cancelled when Close starts; background work runs under it.
	life   context.Context
	cancel context.CancelFunc
	loops  sync.WaitGroup
	// connClosed is closed when the connection is closed for good.
	connClosed chan struct{}
}

// handlerBox holds the handler given to Start, and the same handler as a
// herald.EphemeralHandler if it is one (else nil).
type handlerBox struct {
	h   herald.EventHandler
	eph herald.EphemeralHandler
}

// New connects to the server, creates the presence and map buckets if
// they do not exist yet and takes this node's lease. Namespace streams are
// created when first used.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:        cfg,
		names:      newNames(cfg.Prefix),
		log:        cfg.Logger.With("broker", "nats", "node", cfg.NodeID),
		streams:    make(map[string]jetstream.Stream),
		seqs:       make(map[string]*seqState),
		subs:       make(map[string]*subState),
		readers:    make(map[string]*reader),
		connClosed: make(chan struct{}),
	}
	b.leaseKey = keyToken(cfg.NodeID) + "." + randomHex(8)
	nc, err := nats.Connect(cfg.URL,
		nats.Name("herald "+cfg.NodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		// Find a dead connection within about half a minute rather than
		// nats.go's default of several minutes.
		nats.PingInterval(10*time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DrainTimeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			b.log.Info("reconnected to NATS", "server", c.ConnectedUrlRedacted())
			b.reconnected()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.log.Warn("NATS async error", "subject", subject, "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.connClosed) }),
	)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: connect: %w", err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		<-b.connClosed
		return nil, fmt.Errorf("natsbroker: jetstream: %w", err)
	}
	if err := b.openBuckets(ctx); err != nil {
		nc.Close()
		<-b.connClosed
		return nil, err
	}
	b.life, b.cancel = context.WithCancel(context.Background())
	b.loops.Add(2)
	go b.leaseLoop()
	go b.retentionLoop()
	return b, nil
}

// Start implements herald.Broker.
func (b *Broker) Start(_ context.Context, h herald.EventHandler) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	eh, _ := h.(herald.EphemeralHandler)
	b.handler.Store(&handlerBox{h: h, eph: eh})
	return nil
}

// Close implements herald.Broker: it stops lease renewal, retention and
// deliveries, then drains and closes the connection. It leaves this
// node's presence entries and lease where they are, as a crash would;
// the lease lapses PresenceTTL later and the entries with it.
func (b *Broker) Close(ctx context.Context) error {
	var err error
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.cancel()
		b.loops.Wait()
		b.stopReaders()
		err = b.closeConn(ctx)
	})
	return err
}

func (b *Broker) closeConn(ctx context.Context) error {
	if err := b.nc.Drain(); err != nil {
		// Draining needs a live connection; without one there is
		// nothing to flush.
		b.nc.Close()
	}
	select {
	case <-b.connClosed:
		return nil
	case <-ctx.Done():
		b.nc.Close()
		<-b.connClosed
		return fmt.Errorf("natsbroker: close: %w", ctx.Err())
	}
}

// stream returns the namespace's stream. With create it creates the
// stream if it does not exist; without, it returns errNoStream then.
func (b *Broker) stream(ctx context.Context, ns string, create bool) (jetstream.Stream, error) {
	b.mu.Lock()
	st, ok := b.streams[ns]
	b.mu.Unlock()
	if ok {
		return st, nil
	}
	var err error
	if create {
		st, err = b.ensureStream(ctx, ns)
	} else {
		st, err = b.js.Stream(ctx, b.names.stream(ns))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, errNoStream
		}
		if err == nil {
			err = b.checkStream(st.CachedInfo().Config, ns)
		}
	}
	if err != nil {
		return nil, b.mapErr(fmt.Errorf("natsbroker: stream of namespace %q: %w", ns, err))
	}
	b.mu.Lock()
	b.streams[ns] = st
	b.mu.Unlock()
	return st, nil
}

var errNoStream = errors.New("natsbroker: no stream")

// renewStream drops the cached stream of a namespace, which turned out
// to be gone (a memory-storage server restarted, an operator deleted
// it), and makes it again. It serves a server that is restarting as
// well: the stream is then found as it was.
func (b *Broker) renewStream(ctx context.Context, ns string) (jetstream.Stream, error) {
	b.forgetStream(ns)
	return b.stream(ctx, ns, true)
}

// forgetStream drops the cached stream of a namespace, so that the next
// use looks it up again.
func (b *Broker) forgetStream(ns string) {
	b.mu.Lock()
	delete(b.streams, ns)
	b.mu.Unlock()
}

// streamGone reports whether err says that a stream (or all of
// JetStream) does not answer.
func streamGone(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, jetstream.ErrStreamNotFound)
}

// streamConfig is the configuration of a namespace's stream. It keeps
// every message (no MaxAge, no per-subject limit): retention.go trims
// each channel, always keeping its newest publication, which holds the
// channel's head.
func (b *Broker) streamConfig(ns string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              b.names.stream(ns),
		Description:       "Herald channels of namespace " + ns,
		Subjects:          b.names.streamSubjects(ns),
		Retention:         jetstream.LimitsPolicy,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgsPerSubject: -1,
		Discard:           jetstream.DiscardOld,
		Storage:           b.cfg.storage(),
		Replicas:          b.cfg.Replicas,
		Duplicates:        b.cfg.DedupeWindow,
		// Direct gets may be answered by any replica, which may lag
		// behind the leader; reads must see every acked publication,
		// so replicated streams are read through the leader.
		AllowDirect: b.cfg.Replicas == 1,
		// Gaps inside a channel would break History; only whole-prefix
		// purges (retention) remove messages.
		DenyDelete: true,
	}
}

// ensureStream creates the namespace's stream, or opens it as it is if
// it exists: the first node's settings stand, as for the buckets, except
// limits that would remove a channel's head, which it lifts.
func (b *Broker) ensureStream(ctx context.Context, ns string) (jetstream.Stream, error) {
	want := b.streamConfig(ns)
	st, err := b.js.CreateStream(ctx, want)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, err
	}
	// It exists with another configuration: another node's settings,
	// or an operator's.
	if st, err = b.js.Stream(ctx, want.Name); err != nil {
		return nil, err
	}
	have := st.CachedInfo().Config
	if err := b.checkStream(have, ns); err != nil {
		return nil, err
	}
	if have.Duplicates != want.Duplicates {
		b.log.Warn("the stream's duplicate window differs from DedupeWindow; the stream's applies",
			"stream", want.Name, "duplicates", have.Duplicates, "dedupe_window", want.Duplicates)
	}
	if have.MaxAge == 0 && have.MaxMsgsPerSubject == -1 && have.MaxMsgs == -1 && have.MaxBytes == -1 {
		return st, nil
	}
	b.log.Warn("lifting limits of a stream that would remove channel heads", "stream", want.Name,
		"max_age", have.MaxAge, "max_msgs_per_subject", have.MaxMsgsPerSubject,
		"max_msgs", have.MaxMsgs, "max_bytes", have.MaxBytes)
	upd := have
	upd.MaxAge, upd.MaxMsgsPerSubject, upd.MaxMsgs, upd.MaxBytes = 0, -1, -1, -1
	return b.js.UpdateStream(ctx, upd)
}

// checkStream refuses a stream whose subjects are not the namespace's:
// another deployment's, whose prefix differs from ours only in case.
func (b *Broker) checkStream(have jetstream.StreamConfig, ns string) error {
	want := b.names.streamSubjects(ns)
	got := slices.Clone(have.Subjects)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("stream %s has subjects %q, want %q: is another deployment's prefix the same but for case?",
			have.Name, have.Subjects, want)
	}
	return nil
}

// mapErr turns the errors of a closed connection into herald.ErrClosed
// once the broker is closed.
func (b *Broker) mapErr(err error) error {
	if err != nil && b.closed.Load() && !errors.Is(err, herald.ErrClosed) {
		return fmt.Errorf("%w: %w", herald.ErrClosed, err)
	}
	return err
}

// withTimeout bounds ctx by d unless it has an earlier deadline.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

var (
	_ herald.Broker         = (*Broker)(nil)
	_ herald.BatchPublisher = (*Broker)(nil)
	_ herald.PresenceBroker = (*Broker)(nil)
	_ herald.Broadcaster    = (*Broker)(nil)
)
