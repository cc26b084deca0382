package membroker

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/heraldrt/herald"
)

// Durability says when a publish is acknowledged.
type Durability string

const (
	// DurabilitySync acknowledges after the log is fsynced (group commit).
	DurabilitySync Durability = "sync"
	// DurabilityNone acknowledges before the fsync; see the package doc.
	DurabilityNone Durability = "none"
)

// Config configures a Broker. The zero value of each field is its
// documented default.
type Config struct {
	// Dir is the directory of the on-disk log. Empty keeps the log in
	// memory, for tests and throwaway nodes.
	Dir string
	// Durability: zero means DurabilitySync.
	Durability Durability
	// SyncInterval is how often the log is fsynced with DurabilityNone.
	// Zero means 100ms.
	SyncInterval time.Duration
	// RetentionAge drops publications older than this. Zero means 72h.
	RetentionAge time.Duration
	// RetentionCount keeps at most this many publications per channel.
	// Zero means 100,000.
	RetentionCount uint64
	// RetentionFor, when set, gives each channel's retention instead of
	// RetentionAge and RetentionCount (per namespace, say). A Count of
	// zero keeps no history for the channel: its publications are
	// delivered but not stored.
	RetentionFor func(channel string) herald.Retention
	// DedupeWindow is how long a publication id is remembered. Zero means
	// 10 minutes.
	DedupeWindow time.Duration
	// RetentionInterval is how often retention runs. Zero means 1 minute.
	RetentionInterval time.Duration
	// MaxBatch caps the publishes committed together. Zero means 1024.
	MaxBatch int
	// Clock tells the time. Nil means the system clock.
	Clock herald.Clock
	// Logger receives the broker's and Pebble's logs. Nil means
	// slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Durability == "" {
		c.Durability = DurabilitySync
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = 100 * time.Millisecond
	}
	if c.RetentionAge <= 0 {
		c.RetentionAge = 72 * time.Hour
	}
	if c.RetentionCount == 0 {
		c.RetentionCount = 100_000
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = 10 * time.Minute
	}
	if c.RetentionInterval <= 0 {
		c.RetentionInterval = time.Minute
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1024
	}
	if c.Clock == nil {
		c.Clock = herald.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RetentionFor == nil {
		def := herald.Retention{Age: c.RetentionAge, Count: c.RetentionCount}
		c.RetentionFor = func(string) herald.Retention { return def }
	}
}

// Broker is the embedded broker. Create one with New.
type Broker struct {
	cfg Config
	db  *pebble.DB
	log *slog.Logger

	// reqs carries work to the committer goroutine.
	reqs chan request
	// deliveries carries committed publications to the dispatcher.
	deliveries chan []delivery

	// mu guards channels. A chanState's committer-owned fields are only
	// touched by the committer; head and oldest are atomics for readers.
	mu       sync.Mutex
	channels map[string]*chanState

	handler atomic.Pointer[handlerBox]
	// eph serves Broadcast; see ephemeral.go.
	eph ephemeral

	// sendMu is held for reading while a request is sent to the
	// committer, and for writing while Close closes reqs, so that no send
	// can happen on a closed channel.
	sendMu    sync.RWMutex
	closed    atomic.Bool
	closeOnce sync.Once
	closing   chan struct{} // closed when Close starts
	// loops counts the committer, dispatcher and background goroutines.
	loops sync.WaitGroup
}

// handlerBox holds the handler given to Start, and the same handler as a
// herald.EphemeralHandler if it is one (else nil).
type handlerBox struct {
	h   herald.EventHandler
	eph herald.EphemeralHandler
}

type chanState struct {
	// head and oldest are the committed stream position.
	head   atomic.Uint64
	oldest atomic.Uint64

	// next and lastTime belong to the committer.
	next     uint64
	lastTime int64
}

type delivery struct {
	channel string
	pubs    []*herald.Publication
}

// New opens (or creates) the log and starts the committer.
func New(cfg Config) (*Broker, error) {
	cfg.setDefaults()
	opts := &pebble.Options{Logger: pebbleLogger{cfg.Logger}}
	dir := cfg.Dir
	if dir == "" {
		opts.FS = vfs.NewMem()
		dir = "mem"
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("membroker: open %s: %w", cfg.Dir, err)
	}
	b := &Broker{
		cfg:        cfg,
		db:         db,
		log:        cfg.Logger,
		reqs:       make(chan request, cfg.MaxBatch),
		deliveries: make(chan []delivery, 256),
		channels:   make(map[string]*chanState),
		closing:    make(chan struct{}),
	}
	b.eph.seed = maphash.MakeSeed()
	b.loops.Add(3)
	go b.commitLoop()
	go b.dispatchLoop()
	go b.backgroundLoop()
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

// Subscribe implements herald.Broker. The embedded broker delivers every
// publication to its handler, which skips the channels it has no
// subscribers for at the cost of a map lookup; keeping a second record of
// subscribed channels here would cost memory on every idle connection.
func (b *Broker) Subscribe(context.Context, string) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	return nil
}

// Unsubscribe implements herald.Broker.
func (b *Broker) Unsubscribe(context.Context, string) error { return nil }

// Publish implements herald.Broker.
func (b *Broker) Publish(ctx context.Context, channel string, p *herald.Publication) (herald.PublishResult, error) {
	req := &publishReq{channel: channel, pub: p, done: make(chan struct{})}
	if err := b.submit(ctx, req); err != nil {
		return herald.PublishResult{}, err
	}
	select {
	case <-req.done:
		return req.result, req.err
	case <-ctx.Done():
		// The publish may still commit; a retry with the same id is
		// answered from the dedupe index.
		return herald.PublishResult{}, ctx.Err()
	}
}

// PublishBatch implements herald.BatchPublisher: the requests go to the
// committer back to back, so they usually share one commit.
func (b *Broker) PublishBatch(ctx context.Context, reqs []herald.PublishRequest) []herald.PublishResponse {
	out := make([]herald.PublishResponse, len(reqs))
	prs := make([]*publishReq, len(reqs))
	rs := make([]request, len(reqs))
	for i, r := range reqs {
		prs[i] = &publishReq{channel: r.Channel, pub: r.Publication, done: make(chan struct{})}
		rs[i] = prs[i]
	}
	// On an error the client retries with the same ids; the dedupe index
	// makes that safe whether or not some of them were stored.
	if err := b.submit(ctx, rs...); err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	for i, pr := range prs {
		select {
		case <-pr.done:
			out[i] = herald.PublishResponse{PublishResult: pr.result, Err: pr.err}
		case <-ctx.Done():
			out[i].Err = ctx.Err()
		}
	}
	return out
}

func (b *Broker) submit(ctx context.Context, rs ...request) error {
	b.sendMu.RLock()
	defer b.sendMu.RUnlock()
	if b.closed.Load() {
		return herald.ErrClosed
	}
	for i, r := range rs {
		select {
		case b.reqs <- r:
		case <-ctx.Done():
			// The ones already sent will be answered; fail the rest.
			for _, r := range rs[i:] {
				r.fail(ctx.Err())
			}
			return ctx.Err()
		}
	}
	return nil
}

// History implements herald.Broker.
func (b *Broker) History(_ context.Context, channel string, req herald.HistoryRequest) (herald.History, error) {
	if b.closed.Load() {
		return herald.History{}, herald.ErrClosed
	}
	st, err := b.peekState(channel)
	if err != nil {
		return herald.History{}, err
	}
	h := herald.History{Head: st.head.Load(), Oldest: st.oldest.Load()}
	if req.After >= h.Head && req.Before == 0 {
		return h, nil // nothing after; also keeps After+1 from wrapping
	}
	start, end := max(req.After+1, h.Oldest), h.Head // inclusive
	backward := req.Before > 0
	if backward {
		start, end = h.Oldest, min(req.Before-1, h.Head)
	}
	if req.Limit <= 0 || start > end || end == 0 {
		return h, nil
	}
	it, err := b.db.NewIter(&pebble.IterOptions{
		LowerBound: messageKey(nil, channel, start),
		UpperBound: messageKey(nil, channel, end+1),
	})
	if err != nil {
		return herald.History{}, fmt.Errorf("membroker: history: %w", err)
	}
	defer it.Close()
	prefix := len(channel) + 2
	first, next := it.First, it.Next
	if backward {
		first, next = it.Last, it.Prev
	}
	for ok := first(); ok && len(h.Publications) < req.Limit; ok = next() {
		k := it.Key()
		seq := beUint64(k[prefix:])
		v, err := it.ValueAndErr()
		if err != nil {
			return herald.History{}, fmt.Errorf("membroker: history: %w", err)
		}
		p, err := decodePublication(v, seq)
		if err != nil {
			return herald.History{}, fmt.Errorf("membroker: history %s seq %d: %w", channel, seq, err)
		}
		h.Publications = append(h.Publications, p)
	}
	if err := it.Error(); err != nil {
		return herald.History{}, fmt.Errorf("membroker: history: %w", err)
	}
	if backward {
		slices.Reverse(h.Publications)
		return h, nil
	}
	// Retention may have trimmed the range between reading the position
	// and iterating; report the oldest actually seen so that callers never
	// mistake the trim for a gapless range.
	if n := len(h.Publications); n > 0 && h.Publications[0].Seq > start {
		h.Oldest = h.Publications[0].Seq
	} else if n == 0 {
		h.Oldest = max(h.Oldest, st.oldest.Load())
	}
	return h, nil
}

// Close implements herald.Broker: it commits what was submitted, delivers
// it, fsyncs the log and closes the store.
func (b *Broker) Close(ctx context.Context) error {
	var err error
	b.closeOnce.Do(func() {
		b.sendMu.Lock()
		b.closed.Store(true)
		close(b.reqs)
		b.sendMu.Unlock()
		b.waitBroadcasts()
		close(b.closing)
		done := make(chan struct{})
		go func() { b.loops.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
			<-done
		}
		if serr := b.db.LogData(nil, pebble.Sync); serr != nil && err == nil {
			err = fmt.Errorf("membroker: sync on close: %w", serr)
		}
		if cerr := b.db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("membroker: close: %w", cerr)
		}
	})
	return err
}

// state returns the channel's state, reading it from the store on first
// use and keeping it; the committer uses it.
func (b *Broker) state(channel string) (*chanState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.channels[channel]; ok {
		return st, nil
	}
	st, err := b.loadState(channel)
	if err != nil {
		return nil, err
	}
	b.channels[channel] = st
	return st, nil
}

// peekState returns the channel's state without keeping it when it was
// not in memory: reads of channels nobody publishes to (every user's own
// channel, read once on subscribe) must not cost memory.
func (b *Broker) peekState(channel string) (*chanState, error) {
	b.mu.Lock()
	st, ok := b.channels[channel]
	b.mu.Unlock()
	if ok {
		return st, nil
	}
	return b.loadState(channel)
}

// loadState reads a channel's state from the store.
func (b *Broker) loadState(channel string) (*chanState, error) {
	st := &chanState{}
	head, oldest := uint64(0), uint64(1)
	v, closer, err := b.db.Get(metaKey(channel))
	switch {
	case err == nil:
		head, oldest, err = decodeMeta(v)
		closer.Close()
		if err != nil {
			return nil, fmt.Errorf("membroker: channel %s: %w", channel, err)
		}
	case errors.Is(err, pebble.ErrNotFound):
	default:
		return nil, fmt.Errorf("membroker: channel %s: %w", channel, err)
	}
	st.head.Store(head)
	st.oldest.Store(oldest)
	st.next = head + 1
	return st, nil
}

func beUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error("pebble fatal: " + fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}

var (
	_ herald.Broker         = (*Broker)(nil)
	_ herald.BatchPublisher = (*Broker)(nil)
	_ herald.Broadcaster    = (*Broker)(nil)
)
