package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald"
)

// Broker is a herald.Broker over Redis. Create one with New.
type Broker struct {
	cfg    Config
	client rueidis.Client
	log    *slog.Logger
	// spublish says the server has sharded pub/sub (Redis 7 and later).
	spublish bool

	// ctx is canceled by Close; every background goroutine watches it.
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool
	// clientOnce closes client once.
	clientOnce sync.Once
	// loops counts the subscription, delivery and lease goroutines.
	loops sync.WaitGroup

	handler atomic.Pointer[handlerBox]

	// subMu guards subs.
	subMu sync.Mutex
	subs  map[string]*subscription

	presence presenceState
}

// handlerBox holds the handler given to Start, and the same handler as a
// herald.EphemeralHandler if it is one (else nil).
type handlerBox struct {
	h   herald.EventHandler
	eph herald.EphemeralHandler
}

// New connects to Redis, checks that the server can run the broker
// (Redis 6.2 or later; sharded pub/sub is used from 7.0 on) and takes this
// node's presence lease.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	opt, err := cfg.clientOption()
	if err != nil {
		return nil, err
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisbroker: connect: %w", err)
	}
	major, minor, err := serverVersion(ctx, client)
	if err != nil {
		client.Close()
		return nil, err
	}
	if major < 6 || major == 6 && minor < 2 {
		client.Close()
		return nil, fmt.Errorf("redisbroker: Redis %d.%d is too old: streams with XTRIM MINID need 6.2 or later", major, minor)
	}
	b := &Broker{
		cfg:      cfg,
		client:   client,
		log:      cfg.Logger.With("broker", "redis", "node", cfg.NodeID),
		spublish: major >= 7,
		subs:     make(map[string]*subscription),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if err := b.startPresence(ctx); err != nil {
		b.cancel()
		client.Close()
		return nil, err
	}
	return b, nil
}

// serverVersion reads redis_version from INFO server (of one node of a
// cluster: the nodes of one cluster run one version).
func serverVersion(ctx context.Context, c rueidis.Client) (major, minor int, err error) {
	info, err := c.Do(ctx, c.B().Info().Section("server").Build().Pin()).ToString()
	if err != nil {
		return 0, 0, fmt.Errorf("redisbroker: INFO server: %w", err)
	}
	for line := range strings.Lines(info) {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		parts := strings.SplitN(v, ".", 3)
		if len(parts) >= 2 {
			major, err1 := strconv.Atoi(parts[0])
			minor, err2 := strconv.Atoi(parts[1])
			if err1 == nil && err2 == nil {
				return major, minor, nil
			}
		}
		return 0, 0, fmt.Errorf("redisbroker: unreadable redis_version %q", v)
	}
	return 0, 0, errors.New("redisbroker: INFO server has no redis_version")
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

// Publish implements herald.Broker. The publication is acked once the
// publish script returned (and, with Config.WaitReplicas, once enough
// replicas have it); see the package doc for what that means with each
// persistence setting.
func (b *Broker) Publish(ctx context.Context, channel string, p *herald.Publication) (herald.PublishResult, error) {
	resps := b.PublishBatch(ctx, []herald.PublishRequest{{Channel: channel, Publication: p}})
	return resps[0].PublishResult, resps[0].Err
}

// PublishBatch implements herald.BatchPublisher. The requests of each
// channel go to Redis as one script call, in the order given; the calls of
// all channels share one pipeline.
func (b *Broker) PublishBatch(ctx context.Context, reqs []herald.PublishRequest) []herald.PublishResponse {
	out := make([]herald.PublishResponse, len(reqs))
	if len(reqs) == 0 {
		return out
	}
	if b.closed.Load() {
		for i := range out {
			out[i].Err = herald.ErrClosed
		}
		return out
	}
	// Group by channel, keeping each channel's order.
	var (
		order  []string
		groups = map[string][]int{}
	)
	for i, r := range reqs {
		if _, ok := groups[r.Channel]; !ok {
			order = append(order, r.Channel)
		}
		groups[r.Channel] = append(groups[r.Channel], i)
	}
	calls := make([]call, len(order))
	for g, ch := range order {
		calls[g] = b.publishCall(ch, reqs, groups[ch])
	}
	if b.cfg.WaitReplicas <= 0 {
		for g, res := range b.run(ctx, calls...) {
			b.publishResults(order[g], res, reqs, groups[order[g]], out, nil)
		}
		return out
	}
	var wg sync.WaitGroup
	for g := range calls {
		wg.Go(func() {
			res, n, err := b.runWait(ctx, calls[g])
			if err == nil && n < int64(b.cfg.WaitReplicas) {
				err = fmt.Errorf("%w: %d of %d within %v", ErrNotReplicated, n, b.cfg.WaitReplicas, b.cfg.WaitTimeout)
			}
			b.publishResults(order[g], res, reqs, groups[order[g]], out, err)
		})
	}
	wg.Wait()
	return out
}

// publishCall builds the script call that publishes reqs[idx...], all of
// one channel.
func (b *Broker) publishCall(channel string, reqs []herald.PublishRequest, idx []int) call {
	k := b.keys(channel)
	r := b.cfg.RetentionFor(channel)
	touch := "0"
	if b.cfg.WaitReplicas > 0 {
		touch = "1"
	}
	spub := "0"
	if b.spublish {
		spub = "1"
	}
	c := call{
		script: publishScript,
		keys:   make([]string, 0, 2+len(idx)),
		args:   make([]string, 0, 6+2*len(idx)),
	}
	c.keys = append(c.keys, k.meta, k.stream)
	c.args = append(c.args,
		formatUint(min(r.Count, math.MaxInt32)), strconv.FormatInt(r.Age.Milliseconds(), 10),
		strconv.FormatInt(max(b.cfg.DedupeWindow.Milliseconds(), 1), 10), spub, k.pubsub, touch)
	for _, i := range idx {
		p := reqs[i].Publication
		hasID := "1"
		if p.ID == "" {
			hasID = "0"
		}
		c.keys = append(c.keys, k.dedupe+p.ID)
		c.args = append(c.args, hasID, string(encodeBody(p)))
	}
	return c
}

// publishResults fills out[idx...] from the script's answer res, or with
// err (which replaces a nil error but keeps the results: the caller learns
// the seq of a publication that was stored but not replicated).
func (b *Broker) publishResults(channel string, res rueidis.RedisResult, reqs []herald.PublishRequest, idx []int, out []herald.PublishResponse, waitErr error) {
	fail := func(err error) {
		for _, i := range idx {
			out[i].Err = err
		}
	}
	vals, err := res.ToArray()
	if err != nil {
		fail(b.mapErr(fmt.Errorf("redisbroker: publish %s: %w", channel, err)))
		return
	}
	if len(vals) < 3*len(idx) {
		fail(fmt.Errorf("redisbroker: publish %s: %w: %d values for %d publications", channel, errCorrupt, len(vals), len(idx)))
		return
	}
	var scriptErr error
	if len(vals) > 3*len(idx) {
		msg, _ := vals[3*len(idx)].ToString()
		scriptErr = fmt.Errorf("redisbroker: publish %s: stream append: %s", channel, msg)
	}
	for j, i := range idx {
		kind, err1 := vals[3*j].AsInt64()
		seq, err2 := vals[3*j+1].AsInt64()
		t, err3 := vals[3*j+2].AsInt64()
		if err := errors.Join(err1, err2, err3); err != nil {
			out[i].Err = fmt.Errorf("redisbroker: publish %s: %w: %w", channel, errCorrupt, err)
			continue
		}
		switch kind {
		case 0, 1:
			p := reqs[i].Publication
			out[i].PublishResult = herald.PublishResult{Seq: uint64(seq), Time: t, Duplicate: kind == 1}
			if kind == 0 {
				p.Seq, p.Time = uint64(seq), t
			}
			out[i].Err = waitErr
		default:
			if scriptErr == nil {
				scriptErr = fmt.Errorf("redisbroker: publish %s: not stored", channel)
			}
			out[i].Err = scriptErr
		}
	}
}

// History implements herald.Broker. It runs one script, which applies
// the channel's retention first, so that what it returns is consistent:
// a gapless range, the head and the oldest retained seq of one moment.
func (b *Broker) History(ctx context.Context, channel string, req herald.HistoryRequest) (herald.History, error) {
	if b.closed.Load() {
		return herald.History{}, herald.ErrClosed
	}
	k := b.keys(channel)
	r := b.cfg.RetentionFor(channel)
	limit := req.Limit
	if limit < 0 {
		limit = 0
	}
	c := call{script: historyScript, keys: []string{k.meta, k.stream}, args: []string{
		formatUint(min(r.Count, math.MaxInt32)), strconv.FormatInt(r.Age.Milliseconds(), 10),
		formatUint(min(req.After, maxSeq+1)), formatUint(min(req.Before, maxSeq+1)),
		strconv.Itoa(min(limit, math.MaxInt32)),
	}}
	vals, err := b.run(ctx, c)[0].ToArray()
	if err != nil {
		return herald.History{}, b.mapErr(fmt.Errorf("redisbroker: history %s: %w", channel, err))
	}
	h, err := decodeHistory(vals)
	if err != nil {
		return herald.History{}, fmt.Errorf("redisbroker: history %s: %w", channel, err)
	}
	if req.Before > 0 {
		slices.Reverse(h.Publications)
	}
	return h, nil
}

// decodeHistory reads the history script's answer {head, oldest,
// entries}.
func decodeHistory(vals []rueidis.RedisMessage) (herald.History, error) {
	if len(vals) != 3 {
		return herald.History{}, fmt.Errorf("%w: %d values", errCorrupt, len(vals))
	}
	head, err1 := vals[0].AsInt64()
	oldest, err2 := vals[1].AsInt64()
	if err := errors.Join(err1, err2); err != nil || head < 0 || oldest < 1 {
		return herald.History{}, fmt.Errorf("%w: position %d, %d: %w", errCorrupt, head, oldest, err)
	}
	entries, err := vals[2].AsXRange()
	if err != nil {
		return herald.History{}, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	h := herald.History{Head: uint64(head), Oldest: uint64(oldest)}
	for _, e := range entries {
		p, err := decodeEntry(e.ID, e.FieldValues)
		if err != nil {
			return herald.History{}, err
		}
		h.Publications = append(h.Publications, p)
	}
	return h, nil
}

// RunRetention applies retention now, which for this broker means
// nothing is left to do: the scripts apply a channel's retention whenever
// it is published to or read, and an idle channel's stream expires as a
// whole once its newest publication is older than the retention age.
// Dedupe records expire by themselves. It is here so that callers that
// run retention on a schedule (and the conformance suite) need not tell
// brokers apart.
func (b *Broker) RunRetention(context.Context) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	return nil
}

// Close implements herald.Broker: it stops the lease renewal and the
// deliveries, waits for them and closes the connections. It leaves this
// node's presence entries where they are, as a crash would; they stop
// being reported once the lease lapses.
func (b *Broker) Close(ctx context.Context) error {
	// Setting closed under subMu makes it a barrier for Subscribe, which
	// adds to loops under subMu only while the broker is open.
	b.subMu.Lock()
	was := b.closed.Swap(true)
	b.subMu.Unlock()
	if was {
		return nil
	}
	b.cancel()
	done := make(chan struct{})
	go func() { b.loops.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		// Closing the client fails the Redis calls the goroutines may
		// be waiting in; a handler that does not return keeps Close
		// waiting, as it would keep the hub.
		err = ctx.Err()
		b.closeClient()
		<-done
	}
	b.closeClient()
	return err
}

func (b *Broker) closeClient() { b.clientOnce.Do(b.client.Close) }

// mapErr turns the client's "closing" error into herald.ErrClosed when
// the broker was closed under a call.
func (b *Broker) mapErr(err error) error {
	if b.closed.Load() && errors.Is(err, rueidis.ErrClosing) {
		return herald.ErrClosed
	}
	return err
}

var (
	_ herald.Broker         = (*Broker)(nil)
	_ herald.BatchPublisher = (*Broker)(nil)
	_ herald.PresenceBroker = (*Broker)(nil)
	_ herald.Broadcaster    = (*Broker)(nil)
)
