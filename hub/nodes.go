package hub

import (
	"context"
	"errors"
	"time"

	"github.com/heraldrt/herald"
)

// Node count. Each node of a cluster records itself in the presence of
// the reserved channel NodesChannel, under the broker's node lease, like
// its users in $user.<sub> (status.go): a node that stops cleanly drops
// its lease at once, and one that dies stops counting when its lease
// lapses. The count is read on a timer, every NodesInterval, into
// Stats.Nodes, so that a scrape of /metrics never waits on the broker.
// A broker that keeps no shared presence serves one node: the count is 1.

// NodesChannel is the reserved channel whose presence is the nodes that
// share the broker.
const NodesChannel = "$herald.nodes"

// nodeUser is the user id of a node's entry in NodesChannel.
const nodeUser = "$node"

// startNodes records this node in NodesChannel, reads the count once and
// starts the loop that keeps it fresh. Without shared presence the count
// is 1 and nothing runs.
func (h *Hub) startNodes(ctx context.Context) error {
	p := h.sharedPresence()
	if p == nil {
		h.Stats.Nodes.Store(1)
		return nil
	}
	// The entry's connection id is the hub's id prefix: unique per node
	// and never a session's id, which has a number after the prefix.
	e := herald.PresenceEntry{ConnectionID: h.idPrefix + "node", UserID: nodeUser}
	if err := p.AddPresence(ctx, NodesChannel, e); err != nil {
		return err
	}
	h.countNodes(p)
	h.wg.Add(1)
	go h.nodesLoop(p)
	return nil
}

// nodesLoop reads the node count every NodesInterval until the hub
// stops.
func (h *Hub) nodesLoop(p herald.PresenceBroker) {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.NodesInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			if !h.draining.Load() {
				h.countNodes(p)
			}
		}
	}
}

// countNodes reads how many nodes have a live entry in NodesChannel into
// Stats.Nodes. On an error the last count stays: a broker outage is
// told by the broker's own errors, not by a count that drops to 0.
func (h *Hub) countNodes(p herald.PresenceBroker) {
	ctx, cancel := context.WithTimeout(h.life, presenceTimeout)
	defer cancel()
	entries, err := p.Presence(ctx, NodesChannel)
	if err != nil {
		if !errors.Is(err, herald.ErrClosed) && h.life.Err() == nil {
			h.log.Warn("counting the nodes failed", "err", err)
		}
		return
	}
	n := 0
	for _, e := range entries {
		if e.UserID == nodeUser {
			n++
		}
	}
	// This node counts even when its own entry is not back yet (a lease
	// just taken again).
	h.Stats.Nodes.Store(int64(max(n, 1)))
}
