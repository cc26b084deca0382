package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

// Cluster queries. An operator may ask any node what the whole cluster
// holds: its channels and its counters. The asking node sends one
// control message, op "query", with a request id; every other node
// answers with one ephemeral message on the asker's reply channel,
// ReplyPrefix + its node id, which each clustered node subscribes to at
// start beside ControlChannel. The asker waits for as many answers as
// there are other nodes (the count nodes.go keeps) or for
// Config.QueryTimeout, whichever comes first, and merges what came: a
// node that did not answer in time is simply missing, and the caller
// learns so from Answered < Nodes. Queries and answers are ephemeral
// because they are live only: a query stored in the control channel's
// log would be answered again, to nobody, by every node that catches up.

// ReplyPrefix starts the name of each node's reply channel, in the
// reserved namespace: the node whose id is X takes the answers to its
// cluster queries on ReplyPrefix + X.
const ReplyPrefix = "$herald.reply."

// maxQueryChannels bounds the channels one node puts in an answer, so
// that an answer fits any broker's message size whatever limit is asked.
const maxQueryChannels = 10000

// ClusterStats are counters summed over the nodes that answered a
// cluster query.
type ClusterStats struct {
	Connections   int64 `json:"connections"`
	Authenticated int64 `json:"authenticated"`
	Subscriptions int64 `json:"subscriptions"`
	// Channels sums each node's channels with local subscribers: a
	// channel with subscribers on two nodes counts twice, since a
	// distinct count would need every node's every channel name.
	Channels    int64  `json:"channels"`
	MessagesIn  uint64 `json:"messagesIn"`
	MessagesOut uint64 `json:"messagesOut"`
	// Nodes is the number of nodes sharing the broker, this one included;
	// Answered is how many of them are counted above, this one included.
	Nodes    int `json:"-"`
	Answered int `json:"-"`
}

// Kinds of cluster queries.
const (
	queryChannels = "channels"
	queryStats    = "stats"
)

// clusterQuery is what a query control message asks.
type clusterQuery struct {
	Kind   string `json:"kind"`
	Prefix string `json:"prefix,omitempty"`
	After  string `json:"after,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// queryReply is one node's answer, on the asker's reply channel.
type queryReply struct {
	Req      string        `json:"req"`
	Node     string        `json:"node"`
	Channels []ChannelInfo `json:"channels,omitempty"`
	Stats    *ClusterStats `json:"stats,omitempty"`
}

// queryTable holds the cluster queries this node waits on. The zero
// value is ready to use.
type queryTable struct {
	// mu guards pending: each open request's id and where its answers
	// go. A channel is buffered for every answer the asker waits for,
	// and an answer that finds it full or gone is dropped.
	mu      sync.Mutex
	pending map[string]chan *queryReply
}

// ClusterChannels returns the channels with subscribers on any node whose
// name starts with prefix and sorts after after, sorted by name, at most
// limit of them (limit <= 0 means maxQueryChannels), with each channel's
// subscriptions summed over the nodes that answered. Without peers it is
// Channels with nodes = answered = 1. Each node sends its own first
// limit channels past after: any channel among the first limit of the
// merged list is among the first limit of every node that has it, so the
// merged page, and its counts, are exact for the nodes that answered.
func (h *Hub) ClusterChannels(ctx context.Context, prefix, after string, limit int) (list []ChannelInfo, nodes, answered int, err error) {
	if limit <= 0 || limit > maxQueryChannels {
		limit = maxQueryChannels
	}
	local := h.Channels(prefix, after, limit)
	if !h.clustered() {
		return local, 1, 1, nil
	}
	replies, nodes, err := h.askPeers(ctx, clusterQuery{Kind: queryChannels, Prefix: prefix, After: after, Limit: limit})
	if err != nil {
		return nil, 0, 0, err
	}
	sum := make(map[string]int, len(local))
	for _, c := range local {
		sum[c.Name] += c.Subscribers
	}
	for _, r := range replies {
		for _, c := range r.Channels {
			// A peer's answer is checked as input: only what this
			// query asked for is merged.
			if strings.HasPrefix(c.Name, prefix) && c.Name > after && c.Subscribers > 0 {
				sum[c.Name] += c.Subscribers
			}
		}
	}
	list = make([]ChannelInfo, 0, len(sum))
	for name, n := range sum {
		list = append(list, ChannelInfo{Name: name, Subscribers: n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	if len(list) > limit {
		list = list[:limit]
	}
	return list, nodes, len(replies) + 1, nil
}

// ClusterStats returns the hub's counters summed over the nodes that
// answered. Without peers they are this node's, with Nodes = Answered =
// 1.
func (h *Hub) ClusterStats(ctx context.Context) (ClusterStats, error) {
	st := h.NodeStats()
	if !h.clustered() {
		return st, nil
	}
	replies, nodes, err := h.askPeers(ctx, clusterQuery{Kind: queryStats})
	if err != nil {
		return ClusterStats{}, err
	}
	for _, r := range replies {
		if s := r.Stats; s != nil {
			st.Connections += s.Connections
			st.Authenticated += s.Authenticated
			st.Subscriptions += s.Subscriptions
			st.Channels += s.Channels
			st.MessagesIn += s.MessagesIn
			st.MessagesOut += s.MessagesOut
		}
	}
	st.Nodes, st.Answered = nodes, len(replies)+1
	return st, nil
}

// NodeStats returns this node's counters alone, with Nodes = Answered =
// 1.
func (h *Hub) NodeStats() ClusterStats {
	st := h.localStats()
	st.Nodes, st.Answered = 1, 1
	return st
}

// localStats reads this node's counters.
func (h *Hub) localStats() ClusterStats {
	s := &h.Stats
	return ClusterStats{
		Connections:   s.Connections.Load(),
		Authenticated: s.Authenticated.Load(),
		Subscriptions: s.Subscriptions.Load(),
		Channels:      s.Channels.Load(),
		MessagesIn:    s.MessagesIn.Load(),
		MessagesOut:   s.Delivered.Load(),
	}
}

// askPeers sends q to the other nodes and collects their answers, one
// per node, until every other node counted has answered, the query
// timeout passes or ctx ends. It returns the answers and the node count,
// this node included, which is at least one more than the answers.
func (h *Hub) askPeers(ctx context.Context, q clusterQuery) ([]*queryReply, int, error) {
	nodes := max(int(h.Stats.Nodes.Load()), 1)
	want := nodes - 1
	if want == 0 {
		// Counted alone: nobody to wait for. A peer that joined since
		// the last count is asked once the count has it.
		return nil, 1, nil
	}
	req := newRequestID()
	// The buffer takes every answer the count allows and a few from
	// nodes it does not know yet; more are dropped.
	ch := make(chan *queryReply, want+8)
	h.queries.mu.Lock()
	if h.queries.pending == nil {
		h.queries.pending = make(map[string]chan *queryReply)
	}
	h.queries.pending[req] = ch
	h.queries.mu.Unlock()
	defer func() {
		h.queries.mu.Lock()
		delete(h.queries.pending, req)
		h.queries.mu.Unlock()
	}()

	if err := h.sendQuery(ctx, req, q); err != nil {
		// The node's own answer is still worth having: Answered <
		// Nodes tells the caller what is missing.
		if ctx.Err() == nil && !errors.Is(err, herald.ErrClosed) {
			h.log.Warn("sending a cluster query failed", "err", err)
		}
		return nil, nodes, nil
	}
	timer := time.NewTimer(h.cfg.QueryTimeout)
	defer timer.Stop()
	var replies []*queryReply
	seen := make(map[string]bool)
	for len(replies) < want {
		select {
		case r := <-ch:
			if seen[r.Node] {
				continue
			}
			seen[r.Node] = true
			replies = append(replies, r)
			continue
		case <-timer.C:
		case <-ctx.Done():
		case <-h.stop:
		}
		break
	}
	return replies, max(nodes, len(replies)+1), nil
}

// sendQuery sends the query control message: ephemeral where the broker
// broadcasts, a control publication otherwise.
func (h *Hub) sendQuery(ctx context.Context, req string, q clusterQuery) error {
	m := control{Op: opQuery, Node: h.idPrefix, Req: req, Query: &q}
	b, ok := h.broker.(herald.Broadcaster)
	if !ok {
		return h.tellPeers(ctx, m)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return b.Broadcast(ctx, ControlChannel, data)
}

// answerQuery answers a peer's query on the peer's reply channel. It
// runs on the broker's delivery of control messages, bounded by the
// query timeout, which is also as long as the asker waits.
func (h *Hub) answerQuery(m *control) {
	b, ok := h.broker.(herald.Broadcaster)
	if !ok || m.Query == nil || m.Req == "" || m.Node == "" {
		return
	}
	r := queryReply{Req: m.Req, Node: h.idPrefix}
	switch q := m.Query; q.Kind {
	case queryChannels:
		limit := q.Limit
		if limit <= 0 || limit > maxQueryChannels {
			limit = maxQueryChannels
		}
		r.Channels = h.Channels(q.Prefix, q.After, limit)
	case queryStats:
		st := h.localStats()
		r.Stats = &st
	default:
		h.log.Debug("unknown cluster query", "kind", q.Kind)
		return
	}
	data, err := json.Marshal(&r)
	if err != nil {
		h.log.Error("encoding a query answer failed", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(h.life, h.cfg.QueryTimeout)
	defer cancel()
	if err := b.Broadcast(ctx, replyChannel(m.Node), data); err != nil && h.life.Err() == nil && !errors.Is(err, herald.ErrClosed) {
		h.log.Warn("answering a cluster query failed", "asker", m.Node, "err", err)
	}
}

// handleReply passes an answer on to the query that waits for it, if
// any still does.
func (h *Hub) handleReply(data []byte) {
	var r queryReply
	if err := json.Unmarshal(data, &r); err != nil || r.Req == "" || r.Node == "" {
		h.log.Warn("malformed query answer", "err", err)
		return
	}
	h.queries.mu.Lock()
	ch := h.queries.pending[r.Req]
	h.queries.mu.Unlock()
	if ch == nil {
		return // the asker gave up waiting
	}
	select {
	case ch <- &r:
	default:
	}
}

// replyChannel is the reply channel of the node whose id prefix is node.
func replyChannel(node string) string {
	return ReplyPrefix + strings.TrimSuffix(node, "-")
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
