package redisbroker

import (
	"context"
	"fmt"

	"github.com/heraldrt/herald"
)

// Broadcast implements herald.Broadcaster. It sends the message, marked
// as ephemeral, on the channel's pub/sub channel, the one every node that
// subscribed the channel listens to already: SPUBLISH (PUBLISH before
// Redis 7), no script, nothing stored. It returns once Redis has passed
// the message on to the subscribers connected at the time; a node whose
// connection is broken then misses it, and no catch-up brings it back.
func (b *Broker) Broadcast(ctx context.Context, channel string, data []byte) error {
	if b.closed.Load() {
		return herald.ErrClosed
	}
	ch, msg := b.keys(channel).pubsub, encodeEphemeral(data)
	cmd := b.client.B().Publish().Channel(ch).Message(msg).Build()
	if b.spublish {
		cmd = b.client.B().Spublish().Channel(ch).Message(msg).Build()
	}
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return b.mapErr(fmt.Errorf("redisbroker: broadcast %s: %w", channel, err))
	}
	return nil
}
