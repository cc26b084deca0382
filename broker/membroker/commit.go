package membroker

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/heraldrt/herald"
)

// request is work for the committer: *publishReq, *mapPutReq,
// *trimReq, *expireReq or *barrierReq.
type request interface{ fail(error) }

type publishReq struct {
	channel string
	pub     *herald.Publication
	done    chan struct{}
	result  herald.PublishResult
	err     error
	// leader is the request with the same channel and id earlier in the
	// same batch, whose result this one repeats.
	leader *publishReq
}

func (r *publishReq) fail(err error) { r.err = err; close(r.done) }

// trimReq raises a channel's oldest retained seq, deleting what is below.
type trimReq struct {
	channel string
	oldest  uint64
}

func (*trimReq) fail(error) {}

// expireReq drops the dedupe buckets before the given one.
type expireReq struct{ before uint64 }

func (*expireReq) fail(error) {}

// commitLoop is the committer goroutine: it takes what is queued, up to
// MaxBatch, writes it in one Pebble batch and one fsync, then answers the
// publishers and hands the publications to the dispatcher.
func (b *Broker) commitLoop() {
	defer b.loops.Done()
	defer close(b.deliveries)
	batch := make([]request, 0, b.cfg.MaxBatch)
	for {
		r, ok := <-b.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], r)
	drain:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.commit(batch)
		clear(batch)
	}
}

// touched is a channel written by the batch being committed, with what to
// restore if the commit fails.
type touched struct {
	st        *chanState
	prevNext  uint64
	prevTime  int64
	newOldest uint64
	pubs      []*herald.Publication
	// noHistory marks a channel that keeps no history: its publications
	// are not stored, and oldest follows head.
	noHistory bool
}

func (b *Broker) commit(batch []request) {
	wb := b.db.NewBatch()
	defer wb.Close()
	now := b.cfg.Clock.Now().UnixMilli()
	bucket := b.bucket(now)

	var (
		order    []string // channels in the order first touched
		chans    = make(map[string]*touched)
		pending  = make(map[string]*publishReq)
		acks     []*publishReq
		dups     []*publishReq
		barriers []*barrierReq
		keyBuf   []byte
		// mapPuts are answered after the commit: even a refused put
		// may have been refused by a write of this batch.
		mapPuts    []*mapPutReq
		mapPending = make(map[string]herald.MapEntry)
	)
	touch := func(ch string) (*touched, error) {
		if t, ok := chans[ch]; ok {
			return t, nil
		}
		st, err := b.state(ch)
		if err != nil {
			return nil, err
		}
		t := &touched{st: st, prevNext: st.next, prevTime: st.lastTime, newOldest: st.oldest.Load(),
			noHistory: b.cfg.RetentionFor(ch).Count == 0}
		chans[ch] = t
		order = append(order, ch)
		return t, nil
	}

	for _, r := range batch {
		switch r := r.(type) {
		case *publishReq:
			key := r.channel + "\x00" + r.pub.ID
			if leader, ok := pending[key]; ok {
				r.leader = leader
				dups = append(dups, r)
				continue
			}
			res, found, err := b.lookupDedupe(r.channel, r.pub.ID, now, bucket)
			if err != nil {
				r.fail(err)
				continue
			}
			if found {
				r.result = res
				close(r.done)
				continue
			}
			t, err := touch(r.channel)
			if err != nil {
				r.fail(err)
				continue
			}
			st := t.st
			p := r.pub
			p.Seq = st.next
			p.Time = max(now, st.lastTime)
			st.next++
			st.lastTime = p.Time
			if !t.noHistory {
				keyBuf = messageKey(keyBuf[:0], r.channel, p.Seq)
				_ = wb.Set(keyBuf, encodePublication(p), nil)
			}
			var dv [16]byte
			binary.BigEndian.PutUint64(dv[:8], p.Seq)
			binary.BigEndian.PutUint64(dv[8:], uint64(p.Time))
			_ = wb.Set(dedupeKey(bucket, r.channel, p.ID), dv[:], nil)
			r.result = herald.PublishResult{Seq: p.Seq, Time: p.Time}
			pending[key] = r
			acks = append(acks, r)
			t.pubs = append(t.pubs, p)
		case *mapPutReq:
			if err := b.putMap(wb, r, mapPending); err != nil {
				r.fail(err)
				continue
			}
			mapPuts = append(mapPuts, r)
		case *trimReq:
			t, err := touch(r.channel)
			if err != nil {
				b.log.Error("retention: channel state", "channel", r.channel, "err", err)
				continue
			}
			to := min(r.oldest, t.st.next)
			if to <= t.newOldest {
				continue
			}
			_ = wb.DeleteRange(messageKey(nil, r.channel, t.newOldest), messageKey(nil, r.channel, to), nil)
			t.newOldest = to
		case *expireReq:
			_ = wb.DeleteRange(dedupeBucketKey(0), dedupeBucketKey(r.before), nil)
		case *barrierReq:
			barriers = append(barriers, r)
		}
	}
	for _, ch := range order {
		t := chans[ch]
		if t.noHistory {
			t.newOldest = t.st.next
		}
		_ = wb.Set(metaKey(ch), encodeMeta(t.st.next-1, t.newOldest), nil)
	}

	var err error
	if !wb.Empty() {
		opts := pebble.Sync
		if b.cfg.Durability == DurabilityNone {
			opts = pebble.NoSync
		}
		err = wb.Commit(opts)
	}
	if err != nil {
		err = fmt.Errorf("membroker: commit: %w", err)
		b.log.Error("commit failed", "err", err)
		for _, t := range chans {
			t.st.next, t.st.lastTime = t.prevNext, t.prevTime
		}
		for _, r := range acks {
			r.fail(err)
		}
		for _, r := range dups {
			r.fail(err)
		}
		for _, r := range mapPuts {
			r.fail(err)
		}
		for _, r := range barriers {
			r.fail(err)
		}
		return
	}

	var ds []delivery
	for _, ch := range order {
		t := chans[ch]
		t.st.head.Store(t.st.next - 1)
		t.st.oldest.Store(t.newOldest)
		if len(t.pubs) > 0 {
			ds = append(ds, delivery{channel: ch, pubs: t.pubs})
		}
	}
	for _, r := range acks {
		close(r.done)
	}
	for _, r := range dups {
		r.result = r.leader.result
		r.result.Duplicate = true
		close(r.done)
	}
	for _, r := range mapPuts {
		close(r.done)
	}
	if len(ds) > 0 {
		b.deliveries <- ds
	}
	for _, r := range barriers {
		close(r.done)
	}
}

// lookupDedupe finds a publication with the same channel and id stored
// within the dedupe window, in the current or the previous bucket.
func (b *Broker) lookupDedupe(channel, id string, now int64, bucket uint64) (herald.PublishResult, bool, error) {
	window := b.cfg.DedupeWindow.Milliseconds()
	for _, bk := range [2]uint64{bucket, bucket - 1} {
		v, closer, err := b.db.Get(dedupeKey(bk, channel, id))
		if errors.Is(err, pebble.ErrNotFound) {
			if bk == 0 {
				break
			}
			continue
		}
		if err != nil {
			return herald.PublishResult{}, false, fmt.Errorf("membroker: dedupe lookup: %w", err)
		}
		if len(v) != 16 {
			closer.Close()
			return herald.PublishResult{}, false, errCorrupt
		}
		res := herald.PublishResult{
			Seq:       binary.BigEndian.Uint64(v[:8]),
			Time:      int64(binary.BigEndian.Uint64(v[8:])),
			Duplicate: true,
		}
		closer.Close()
		if now-res.Time < window {
			return res, true, nil
		}
	}
	return herald.PublishResult{}, false, nil
}

func (b *Broker) bucket(nowMs int64) uint64 {
	if nowMs < 0 {
		return 0
	}
	return uint64(nowMs / b.cfg.DedupeWindow.Milliseconds())
}

// dispatchLoop delivers committed publications to the event handler, in
// commit order.
func (b *Broker) dispatchLoop() {
	defer b.loops.Done()
	for ds := range b.deliveries {
		hb := b.handler.Load()
		if hb == nil {
			continue
		}
		// Take the commits that piled up while the handler was busy
		// too, and hand each channel's publications over in one call:
		// a node that writes each message to thousands of sockets then
		// coalesces a backlog into one write per socket instead of
		// falling further behind.
		merged := false
	drain:
		for len(ds) < maxDispatchBatch {
			select {
			case more, ok := <-b.deliveries:
				if !ok {
					break drain
				}
				ds = append(ds[:len(ds):len(ds)], more...)
				merged = true
			default:
				break drain
			}
		}
		if merged {
			ds = mergeByChannel(ds)
		}
		for _, d := range ds {
			hb.h.HandlePublications(d.channel, d.pubs)
		}
	}
}

// maxDispatchBatch bounds the deliveries one dispatch merges.
const maxDispatchBatch = 1024

// mergeByChannel joins the deliveries of each channel, in order; the
// channels keep the order of their first delivery.
func mergeByChannel(ds []delivery) []delivery {
	at := make(map[string]int, len(ds))
	out := make([]delivery, 0, len(ds))
	for _, d := range ds {
		i, ok := at[d.channel]
		if !ok {
			at[d.channel] = len(out)
			out = append(out, delivery{channel: d.channel, pubs: d.pubs[:len(d.pubs):len(d.pubs)]})
			continue
		}
		out[i].pubs = append(out[i].pubs, d.pubs...)
	}
	return out
}
