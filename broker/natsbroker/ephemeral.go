package natsbroker

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/heraldrt/herald"
)

// Ephemeral messages never touch JetStream: Broadcast publishes them on
// core NATS, on the channel's ephemeral subject (names.go), which no
// stream takes in, and each namespace reader holds a core subscription
// to its namespace's ephemeral subjects for as long as it runs. Core NATS
// delivers to the subscriptions the server knows at the time, once, and
// nats.go renews them after a reconnect; what passes while a node is cut
// off is lost to it, which is what the Broadcaster contract allows.

// Broadcast implements herald.Broadcaster. It returns once the message
// is in the connection's outgoing buffer; while the connection is down,
// nats.go keeps it (within its reconnect buffer) and sends it once the
// connection is back.
func (b *Broker) Broadcast(_ context.Context, channel string, data []byte) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	if b.closed.Load() {
		return herald.ErrClosed
	}
	if err := b.nc.Publish(b.names.ephemeralSubject(channel), data); err != nil {
		return b.mapErr(fmt.Errorf("natsbroker: broadcast %s: %w", channel, err))
	}
	return nil
}

// onEphemeral hands an ephemeral message of the reader's namespace to the
// handler if its channel is subscribed on this node. nats.go calls it on
// the subscription's one goroutine, so calls for a channel never overlap;
// m.Data is the message's own copy, which the handler may keep.
func (r *reader) onEphemeral(m *nats.Msg) {
	b := r.b
	channel, ok := b.names.ephemeralChannel(r.ns, m.Subject)
	if !ok {
		return
	}
	b.subMu.Lock()
	s := b.subs[channel]
	b.subMu.Unlock()
	if s == nil || s.r != r {
		return
	}
	hb := b.handler.Load()
	if hb == nil || hb.eph == nil {
		return
	}
	r.ephMu.Lock()
	defer r.ephMu.Unlock()
	if r.ephStopped {
		return
	}
	hb.eph.HandleEphemeral(channel, m.Data)
}
