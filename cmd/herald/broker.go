package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/membroker"
	"github.com/heraldrt/herald/broker/natsbroker"
	"github.com/heraldrt/herald/broker/redisbroker"
)

// brokerConnectTimeout bounds connecting to a Redis or NATS server at
// start-up.
const brokerConnectTimeout = 30 * time.Second

// broker makes the broker --broker names: the embedded one, or a client
// of the Redis or NATS server that the nodes of a cluster share.
func (c *serveCmd) broker(log *slog.Logger) (herald.Broker, string, error) {
	namespaces := c.Namespaces.Namespaces
	retention := func(channel string) herald.Retention {
		return namespaces.Retention(channel, c.RetentionAge, c.RetentionCount)
	}
	if c.Broker == "" || c.Broker == "embedded" {
		b, err := membroker.New(membroker.Config{
			Dir:          c.Data,
			Durability:   membroker.Durability(c.Durability),
			DedupeWindow: c.DedupeWindow,
			RetentionFor: retention,
			Logger:       log,
		})
		return b, "embedded", err
	}
	u, err := url.Parse(c.Broker)
	if err != nil {
		return nil, "", fmt.Errorf("--broker: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerConnectTimeout)
	defer cancel()
	switch u.Scheme {
	case "redis", "rediss", "unix":
		b, err := redisbroker.New(ctx, redisbroker.Config{
			URL: c.Broker, Prefix: c.BrokerPrefix, NodeID: c.NodeID,
			DedupeWindow: c.DedupeWindow, RetentionFor: retention,
			PresenceTTL: c.PresenceTTL, WaitReplicas: c.RedisWaitReplicas, Logger: log,
		})
		if err != nil {
			return nil, "", fmt.Errorf("--broker: %w", err)
		}
		return b, "redis", nil
	case "nats", "tls":
		b, err := natsbroker.New(ctx, natsbroker.Config{
			URL: c.Broker, Prefix: c.BrokerPrefix, NodeID: c.NodeID,
			Replicas: c.NATSReplicas, Storage: c.NATSStorage,
			DedupeWindow: c.DedupeWindow, RetentionFor: retention,
			PresenceTTL: c.PresenceTTL, Logger: log,
		})
		if err != nil {
			return nil, "", fmt.Errorf("--broker: %w", err)
		}
		return b, "nats", nil
	}
	return nil, "", fmt.Errorf("--broker: %q is neither embedded, redis://, rediss:// nor nats://", c.Broker)
}
