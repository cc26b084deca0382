package redisbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald"
)

// presenceState is this node's side of presence: its lease epoch and the
// entries it added, which it writes again when its lease lapsed and it
// takes a new one (after a long blink, or a Redis restart that lost the
// lease).
type presenceState struct {
	// mu is held for reading by AddPresence and RemovePresence across
	// their Redis calls, and for writing while a lapsed lease is taken
	// again under a new epoch, so that no entry is written with an epoch
	// that has just ended. It is taken before localMu.
	mu    sync.RWMutex
	epoch string // the lease key's value; guarded by mu
	// dropped is set by DropPresence: the lease is gone for good; guarded
	// by mu.
	dropped bool

	localMu sync.Mutex
	local   map[string]map[string]herald.PresenceEntry // channel -> connection -> entry
}

// presenceRecord is what a presence hash holds for one connection.
type presenceRecord struct {
	UserID string          `json:"u"`
	Info   json.RawMessage `json:"i,omitempty"`
	Node   string          `json:"n"`
	// Epoch is the node's lease value when the entry was written: an
	// entry is live while its node's lease key holds it.
	Epoch string `json:"e"`
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startPresence takes the node's lease and starts renewing it.
func (b *Broker) startPresence(ctx context.Context) error {
	b.presence.local = make(map[string]map[string]herald.PresenceEntry)
	b.presence.epoch = newEpoch()
	if err := b.setLease(ctx, b.presence.epoch, false); err != nil {
		return err
	}
	b.loops.Add(1)
	go b.leaseLoop()
	return nil
}

// setLease writes the lease key; with renew, only if it is still there.
// It reports ok=false (and no error) when a renewal found the lease gone.
func (b *Broker) setLease(ctx context.Context, epoch string, renew bool) error {
	ttl := b.cfg.PresenceTTL.Milliseconds()
	cmd := b.client.B().Set().Key(b.leaseKey(b.cfg.NodeID)).Value(epoch).Px(time.Duration(ttl) * time.Millisecond).Build().Pin()
	if renew {
		cmd = b.client.B().Set().Key(b.leaseKey(b.cfg.NodeID)).Value(epoch).Xx().Px(time.Duration(ttl) * time.Millisecond).Build().Pin()
	}
	err := b.client.Do(ctx, cmd).Error()
	if rueidis.IsRedisNil(err) {
		return errLeaseLapsed
	}
	if err != nil {
		return fmt.Errorf("redisbroker: presence lease: %w", err)
	}
	return nil
}

var errLeaseLapsed = fmt.Errorf("redisbroker: presence lease lapsed")

func (b *Broker) leaseLoop() {
	defer b.loops.Done()
	t := time.NewTicker(b.cfg.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		b.presence.mu.RLock()
		epoch, dropped := b.presence.epoch, b.presence.dropped
		b.presence.mu.RUnlock()
		if dropped {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.PresenceTTL/3)
		err := b.setLease(ctx, epoch, true)
		if err == errLeaseLapsed {
			err = b.retakeLease(ctx)
		}
		if err != nil && b.ctx.Err() == nil {
			b.log.Warn("presence lease renewal failed", "err", err)
		}
		cancel()
	}
}

// retakeLease takes a new lease under a new epoch and writes this node's
// entries again: the old ones may have been dropped as stale already.
func (b *Broker) retakeLease(ctx context.Context) error {
	ps := &b.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.dropped {
		return nil
	}
	epoch := newEpoch()
	if err := b.setLease(ctx, epoch, false); err != nil {
		return err
	}
	ps.epoch = epoch
	ps.localMu.Lock()
	var cmds rueidis.Commands
	for ch, conns := range ps.local {
		for _, e := range conns {
			rec, err := b.presenceRecord(e, epoch)
			if err != nil {
				continue // it was encoded once; it cannot fail now
			}
			cmds = append(cmds, b.client.B().Hset().Key(b.keys(ch).presence).FieldValue().FieldValue(e.ConnectionID, rec).Build().Pin())
		}
	}
	ps.localMu.Unlock()
	b.log.Info("presence lease had lapsed; entries written again", "entries", len(cmds))
	if len(cmds) == 0 {
		return nil
	}
	for _, r := range b.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("redisbroker: presence rewrite: %w", err)
		}
	}
	return nil
}

func (b *Broker) presenceRecord(e herald.PresenceEntry, epoch string) (string, error) {
	rec, err := json.Marshal(presenceRecord{UserID: e.UserID, Info: e.Info, Node: b.cfg.NodeID, Epoch: epoch})
	if err != nil {
		return "", fmt.Errorf("redisbroker: presence of %s: %w", e.ConnectionID, err)
	}
	return string(rec), nil
}

// DropPresence implements herald.PresenceBroker: it deletes the node's
// lease, which makes every entry written under it stale for all readers
// at once; they are deleted lazily, as a crashed node's are.
func (b *Broker) DropPresence(ctx context.Context) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	ps := &b.presence
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.dropped = true
	ps.localMu.Lock()
	ps.local = make(map[string]map[string]herald.PresenceEntry)
	ps.localMu.Unlock()
	cmd := b.client.B().Del().Key(b.leaseKey(b.cfg.NodeID)).Build().Pin()
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return b.mapErr(fmt.Errorf("redisbroker: drop presence: %w", err))
	}
	return nil
}

// AddPresence implements herald.PresenceBroker.
func (b *Broker) AddPresence(ctx context.Context, channel string, e herald.PresenceEntry) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	ps := &b.presence
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	if ps.dropped {
		return herald.ErrClosed
	}
	rec, err := b.presenceRecord(e, ps.epoch)
	if err != nil {
		return err
	}
	cmd := b.client.B().Hset().Key(b.keys(channel).presence).FieldValue().FieldValue(e.ConnectionID, rec).Build().Pin()
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return b.mapErr(fmt.Errorf("redisbroker: add presence %s: %w", channel, err))
	}
	ps.localMu.Lock()
	conns := ps.local[channel]
	if conns == nil {
		conns = make(map[string]herald.PresenceEntry)
		ps.local[channel] = conns
	}
	conns[e.ConnectionID] = e
	ps.localMu.Unlock()
	return nil
}

// RemovePresence implements herald.PresenceBroker.
func (b *Broker) RemovePresence(ctx context.Context, channel, connectionID string) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	ps := &b.presence
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	ps.localMu.Lock()
	if conns := ps.local[channel]; conns != nil {
		delete(conns, connectionID)
		if len(conns) == 0 {
			delete(ps.local, channel)
		}
	}
	ps.localMu.Unlock()
	cmd := b.client.B().Hdel().Key(b.keys(channel).presence).Field(connectionID).Build().Pin()
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return b.mapErr(fmt.Errorf("redisbroker: remove presence %s: %w", channel, err))
	}
	return nil
}

// Presence implements herald.PresenceBroker. It reads the channel's
// entries, then the leases of the nodes that wrote them (each its own
// command: in a cluster they live in other slots), and drops the entries
// of lapsed leases as it goes.
func (b *Broker) Presence(ctx context.Context, channel string) ([]herald.PresenceEntry, error) {
	if b.closed.Load() {
		return nil, herald.ErrClosed
	}
	key := b.keys(channel).presence
	all, err := b.client.Do(ctx, b.client.B().Hgetall().Key(key).Build().Pin()).AsStrMap()
	if err != nil {
		return nil, b.mapErr(fmt.Errorf("redisbroker: presence %s: %w", channel, err))
	}
	if len(all) == 0 {
		return nil, nil
	}
	recs := make(map[string]presenceRecord, len(all))
	var nodes []string
	seen := map[string]bool{}
	for conn, v := range all {
		var r presenceRecord
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			b.log.Error("undecodable presence entry skipped", "channel", channel, "connection", conn, "err", err)
			continue
		}
		recs[conn] = r
		if !seen[r.Node] {
			seen[r.Node] = true
			nodes = append(nodes, r.Node)
		}
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(nodes))
	for i, n := range nodes {
		cmds[i] = b.client.B().Get().Key(b.leaseKey(n)).Build().Pin()
	}
	leases := make(map[string]string, len(nodes))
	for i, r := range b.client.DoMulti(ctx, cmds...) {
		v, err := r.ToString()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, b.mapErr(fmt.Errorf("redisbroker: presence %s: lease of %s: %w", channel, nodes[i], err))
		}
		leases[nodes[i]] = v
	}
	var (
		out   []herald.PresenceEntry
		stale []string
	)
	for conn, r := range recs {
		if epoch, ok := leases[r.Node]; ok && epoch == r.Epoch {
			out = append(out, herald.PresenceEntry{ConnectionID: conn, UserID: r.UserID, Info: r.Info})
			continue
		}
		stale = append(stale, conn, all[conn])
	}
	if len(stale) > 0 {
		c := call{script: removeStaleScript, keys: []string{key}, args: stale}
		if err := b.run(ctx, c)[0].Error(); err != nil {
			b.log.Warn("dropping stale presence failed", "channel", channel, "err", err)
		}
	}
	return out, nil
}
