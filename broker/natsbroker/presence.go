package natsbroker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldrt/herald"
)

// Presence lives in two KV buckets:
//
//	<prefix>_presence  key keyToken(channel).keyToken(connection id)
//	                   value {"userId":…,"info":…,"node":<lease key>}
//	<prefix>_leases    key keyToken(node id).<incarnation>, TTL PresenceTTL
//
// A node puts its lease when it starts and every PresenceTTL/3 after;
// the bucket's MaxAge drops a lease that was not renewed. Presence reads
// a channel's entries with a watcher on its keys and returns those whose
// node holds a live lease; it removes the others, unless they were
// rewritten meanwhile. Entries are removed by purging their subject, so
// a connection that came and went leaves no delete marker behind.

const presenceTimeout = 10 * time.Second

func (b *Broker) leaseBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      b.names.leaseBucket(),
		Description: "Herald node leases",
		TTL:         b.cfg.PresenceTTL,
		Storage:     b.cfg.storage(),
		Replicas:    b.cfg.Replicas,
	}
}

func (b *Broker) presenceBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      b.names.presenceBucket(),
		Description: "Herald presence",
		Storage:     b.cfg.storage(),
		Replicas:    b.cfg.Replicas,
	}
}

// openBuckets creates the presence and map buckets if needed and takes
// the lease.
func (b *Broker) openBuckets(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx, presenceTimeout)
	defer cancel()
	var err error
	b.leases, err = b.bucket(ctx, b.leaseBucketConfig())
	if err != nil {
		return err
	}
	status, err := b.leases.Status(ctx)
	if err != nil {
		return fmt.Errorf("natsbroker: lease bucket: %w", err)
	}
	// Renew for the bucket's TTL, which is the first node's PresenceTTL:
	// a node that renewed for a longer TTL of its own would see its
	// lease lapse between renewals, and others remove its entries.
	b.leaseTTL = status.TTL()
	if b.leaseTTL <= 0 {
		return fmt.Errorf("natsbroker: lease bucket %s has no TTL", b.names.leaseBucket())
	}
	if b.leaseTTL != b.cfg.PresenceTTL {
		b.log.Warn("the lease bucket's TTL differs from PresenceTTL; using the bucket's",
			"bucket", b.names.leaseBucket(), "ttl", b.leaseTTL, "presence_ttl", b.cfg.PresenceTTL)
	}
	b.presence, err = b.bucket(ctx, b.presenceBucketConfig())
	if err != nil {
		return err
	}
	if b.presenceStore, err = b.js.Stream(ctx, "KV_"+b.names.presenceBucket()); err != nil {
		return fmt.Errorf("natsbroker: presence bucket stream: %w", err)
	}
	if b.maps, err = b.mapBucket(ctx); err != nil {
		return err
	}
	if err := b.renewLease(ctx); err != nil {
		return fmt.Errorf("natsbroker: take lease: %w", err)
	}
	return nil
}

// reopenBuckets makes the buckets again after they were lost, and takes
// the lease. The handles of openBuckets work on the new buckets: they
// name buckets, not instances.
func (b *Broker) reopenBuckets(ctx context.Context) error {
	if _, err := b.bucket(ctx, b.leaseBucketConfig()); err != nil {
		return err
	}
	if _, err := b.bucket(ctx, b.presenceBucketConfig()); err != nil {
		return err
	}
	if _, err := b.mapBucket(ctx); err != nil {
		return err
	}
	return b.renewLease(ctx)
}

// bucket creates a bucket, or opens it as it is if it exists: the first
// node's settings stand. To change them, an operator edits or deletes
// the bucket (nats kv edit / nats kv rm).
func (b *Broker) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := b.js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = b.js.KeyValue(ctx, cfg.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("natsbroker: bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// AddPresence implements herald.PresenceBroker.
func (b *Broker) AddPresence(ctx context.Context, channel string, e herald.PresenceEntry) error {
	if b.closed.Load() || b.presenceDropped.Load() {
		return herald.ErrClosed
	}
	if err := checkChannel(channel); err != nil {
		return err
	}
	v, err := encodePresence(e.UserID, e.Info, b.leaseKey)
	if err != nil {
		return fmt.Errorf("natsbroker: presence in %s: %w", channel, err)
	}
	err = b.retry(ctx, attemptTimeout, func(ctx context.Context) error {
		_, err := b.presence.Put(ctx, presenceKey(channel, e.ConnectionID), v)
		return err
	})
	if err != nil {
		return b.mapErr(fmt.Errorf("natsbroker: add presence in %s: %w", channel, err))
	}
	return nil
}

// DropPresence implements herald.PresenceBroker: it stops renewing the
// node's lease and deletes it, which makes every entry written under it
// stale for all readers at once; they are removed lazily, as a crashed
// node's are.
func (b *Broker) DropPresence(ctx context.Context) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	b.presenceDropped.Store(true)
	err := b.retry(ctx, attemptTimeout, func(ctx context.Context) error {
		return b.leases.Delete(ctx, b.leaseKey)
	})
	if err != nil {
		return b.mapErr(fmt.Errorf("natsbroker: drop presence: %w", err))
	}
	return nil
}

// RemovePresence implements herald.PresenceBroker.
func (b *Broker) RemovePresence(ctx context.Context, channel, connectionID string) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	if err := checkChannel(channel); err != nil {
		return err
	}
	subject := b.presenceSubject(presenceKey(channel, connectionID))
	err := b.retry(ctx, attemptTimeout, func(ctx context.Context) error {
		return b.presenceStore.Purge(ctx, jetstream.WithPurgeSubject(subject))
	})
	if err != nil {
		return b.mapErr(fmt.Errorf("natsbroker: remove presence in %s: %w", channel, err))
	}
	return nil
}

// Presence implements herald.PresenceBroker.
func (b *Broker) Presence(ctx context.Context, channel string) ([]herald.PresenceEntry, error) {
	if b.closed.Load() {
		return nil, herald.ErrClosed
	}
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, presenceTimeout)
	defer cancel()
	var kves []jetstream.KeyValueEntry
	err := b.retry(ctx, presenceTimeout/2, func(ctx context.Context) (err error) {
		kves, err = watchAll(ctx, b.presence, presenceFilter(channel))
		return err
	})
	if err != nil {
		return nil, b.mapErr(fmt.Errorf("natsbroker: presence of %s: %w", channel, err))
	}
	live := map[string]bool{b.leaseKey: true}
	var (
		out   []herald.PresenceEntry
		stale []jetstream.KeyValueEntry
	)
	for _, kve := range kves {
		v, err := decodePresence(kve.Value())
		if err != nil {
			b.log.Warn("skipping an undecodable presence entry", "channel", channel, "key", kve.Key(), "err", err)
			continue
		}
		alive, ok := live[v.Node]
		if !ok {
			actx, end := b.attempt(ctx, attemptTimeout)
			alive = b.leaseLive(actx, v.Node)
			end()
			live[v.Node] = alive
		}
		if !alive {
			stale = append(stale, kve)
			continue
		}
		_, conn, _ := strings.Cut(kve.Key(), ".")
		id, err := decodeKeyToken(conn)
		if err != nil {
			b.log.Warn("skipping a presence entry with a bad key", "channel", channel, "key", kve.Key())
			continue
		}
		out = append(out, herald.PresenceEntry{ConnectionID: id, UserID: v.UserID, Info: v.Info})
	}
	for _, kve := range stale {
		// Only up to the revision read: an entry written again since
		// (its node came back) stays.
		actx, end := b.attempt(ctx, attemptTimeout)
		err := b.presenceStore.Purge(actx, jetstream.WithPurgeSubject(b.presenceSubject(kve.Key())),
			jetstream.WithPurgeSequence(kve.Revision()+1))
		end()
		if err != nil {
			b.log.Warn("removing a stale presence entry", "key", kve.Key(), "err", err)
		}
	}
	return out, nil
}

// watchAll returns the current entries of the bucket's keys matching
// filter.
func watchAll(ctx context.Context, kv jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer stopWatcher(w)
	var out []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("watcher closed")
			}
			if e == nil { // the initial values are in
				return out, nil
			}
			out = append(out, e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// stopWatcher stops w and drains its updates, so that its delivery
// goroutine, which blocks on a full channel, can end.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-w.Updates():
			if !ok {
				return
			}
		case <-t.C:
			return
		}
	}
}

// leaseLive reports whether the lease key holds a live lease. A failed
// read counts as live: an entry is never removed on a guess.
func (b *Broker) leaseLive(ctx context.Context, key string) bool {
	if !validKey(key) {
		return false
	}
	_, err := b.leases.Get(ctx, key)
	switch {
	case err == nil:
		return true
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false
	default:
		b.log.Warn("reading a node lease", "lease", key, "err", err)
		return true
	}
}

// renewLease puts this node's lease.
func (b *Broker) renewLease(ctx context.Context) error {
	v := fmt.Appendf(nil, `{"node":%s,"renewed":%d}`, strconv.Quote(b.cfg.NodeID), time.Now().UnixMilli())
	_, err := b.leases.Put(ctx, b.leaseKey, v)
	return err
}

// leaseLoop renews the lease every third of its TTL and stops idle
// readers.
func (b *Broker) leaseLoop() {
	defer b.loops.Done()
	every := b.leaseTTL / 3
	lease := time.NewTicker(every)
	defer lease.Stop()
	idle := time.NewTicker(readerLinger / 4)
	defer idle.Stop()
	for {
		select {
		case <-b.life.Done():
			return
		case <-lease.C:
			if b.presenceDropped.Load() {
				continue
			}
			ctx, cancel := context.WithTimeout(b.life, every)
			err := b.renewLease(ctx)
			cancel()
			if err != nil && b.life.Err() == nil {
				// Perhaps the buckets are gone (a memory-storage server
				// restarted): make them again, which does nothing to
				// buckets that exist.
				ctx, cancel := context.WithTimeout(b.life, presenceTimeout)
				if rerr := b.reopenBuckets(ctx); rerr != nil && b.life.Err() == nil {
					b.log.Warn("renewing the node lease", "err", err, "reopening buckets", rerr)
				}
				cancel()
			}
		case <-idle.C:
			b.stopIdleReaders()
		}
	}
}

func (b *Broker) presenceSubject(key string) string {
	return "$KV." + b.names.presenceBucket() + "." + key
}

// presenceValue is the value of a presence entry.
type presenceValue struct {
	UserID string          `json:"userId"`
	Info   json.RawMessage `json:"info,omitempty"`
	Node   string          `json:"node"`
}

// encodePresence writes the value by hand so that info is kept byte for
// byte (json.Marshal would compact it).
func encodePresence(userID string, info json.RawMessage, node string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"userId":`)
	uid, err := json.Marshal(userID)
	if err != nil {
		return nil, err
	}
	b.Write(uid)
	if len(info) > 0 {
		if !json.Valid(info) {
			return nil, errors.New("info is not valid JSON")
		}
		b.WriteString(`,"info":`)
		b.Write(info)
	}
	b.WriteString(`,"node":`)
	n, err := json.Marshal(node)
	if err != nil {
		return nil, err
	}
	b.Write(n)
	b.WriteByte('}')
	return b.Bytes(), nil
}

func decodePresence(data []byte) (presenceValue, error) {
	var v presenceValue
	if err := json.Unmarshal(data, &v); err != nil {
		return presenceValue{}, err
	}
	if len(v.Info) == 0 {
		v.Info = nil
	}
	return v, nil
}
