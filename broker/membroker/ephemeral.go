package membroker

import (
	"bytes"
	"context"
	"hash/maphash"
	"sync"

	"github.com/heraldrt/herald"
)

// ephemeralStripes is how many locks serialize ephemeral deliveries. A
// channel always takes the same one, so that HandleEphemeral runs for a
// channel on one goroutine at a time, while different channels mostly go
// in parallel; a fixed set costs no memory per channel.
const ephemeralStripes = 64

// ephemeral is what Broadcast needs besides the handler.
type ephemeral struct {
	// mu is held for reading while a broadcast is delivered, and for
	// writing by Close, once closed is set, to wait for those in
	// progress: no handler is called after Close returns.
	mu    sync.RWMutex
	seed  maphash.Seed
	locks [ephemeralStripes]paddedMutex
}

// paddedMutex keeps neighbouring stripes off one cache line.
type paddedMutex struct {
	sync.Mutex
	_ [64 - 8]byte
}

// Broadcast implements herald.Broadcaster: it hands a copy of data to the
// handler given to Start, if that is a herald.EphemeralHandler, on the
// caller's goroutine, and returns once the handler has. Nothing is
// stored and the committer is not involved, so broadcasts never wait for
// publishes or the reverse. Like publications, the messages of every
// channel are delivered, subscribed or not; the handler skips those it
// does not need.
func (b *Broker) Broadcast(_ context.Context, channel string, data []byte) error {
	e := &b.eph
	e.mu.RLock()
	defer e.mu.RUnlock()
	if b.closed.Load() {
		return herald.ErrClosed
	}
	hb := b.handler.Load()
	if hb == nil || hb.eph == nil {
		return nil
	}
	// The caller may reuse data once Broadcast returns, and the handler
	// may keep what it is given (a session queues it to write later).
	msg := bytes.Clone(data)
	if msg == nil {
		msg = []byte{}
	}
	l := &e.locks[maphash.String(e.seed, channel)%ephemeralStripes]
	l.Lock()
	defer l.Unlock()
	hb.eph.HandleEphemeral(channel, msg)
	return nil
}

// waitBroadcasts waits for the broadcasts in progress; b.closed must be
// set, so that no new one starts delivering.
func (b *Broker) waitBroadcasts() {
	b.eph.mu.Lock()
	b.eph.mu.Unlock()
}
