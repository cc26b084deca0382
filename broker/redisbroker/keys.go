package redisbroker

// keys names the Redis keys of one channel. All of them carry the hash tag
// {channel}, so that in Redis Cluster they live in one slot and one script
// may touch them all, including the shard channel it publishes to.
type keys struct {
	meta     string // hash: h = head seq, t = last time, o = oldest time (or earlier)
	stream   string // stream: one entry per retained publication, id "<seq>-0"
	pubsub   string // (shard) pub/sub channel
	presence string // hash: connection id -> presence record
	dedupe   string // prefix of the dedupe keys; the id follows
}

func (b *Broker) keys(channel string) keys {
	base := b.cfg.Prefix + ":{" + channel + "}:"
	return keys{
		meta:     base + "m",
		stream:   base + "s",
		pubsub:   base + "p",
		presence: base + "pr",
		dedupe:   base + "d:",
	}
}

// mapKey is the hash of a channel map: key -> record (mapentry). It
// carries the channel's hash tag, like the channel's other keys. Map
// names are letters, digits, '_' and '-' only (mapentry.ValidName).
func (b *Broker) mapKey(channel, name string) string {
	return b.cfg.Prefix + ":{" + channel + "}:map:" + name
}

// leaseKey is the key of a node's presence lease. It carries no hash tag:
// leases spread over the cluster, and no command or script combines one
// with a channel's keys.
func (b *Broker) leaseKey(node string) string {
	return b.cfg.Prefix + ":node:" + node
}
