package hub

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// ControlChannel carries the nodes' messages to one another when several
// share a broker: a disconnect asked of one node reaches the connections
// on every node. It lives in a reserved namespace and keeps no history.
const ControlChannel = "$herald.control"

// Reserved reports whether channel is in a namespace reserved for Herald
// (one that starts with "$"): clients may neither subscribe nor publish
// there, and neither may the server API.
func Reserved(channel string) bool { return strings.HasPrefix(channel, "$") }

var errReserved = &protocol.Error{Code: protocol.CodeForbidden, Message: "namespaces that start with $ are reserved for Herald"}

// control is one message on ControlChannel.
type control struct {
	Op string `json:"op"`
	// Node is the sender's id prefix; a node skips its own messages.
	Node         string `json:"node"`
	UserID       string `json:"userId,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	Code         int    `json:"code,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Req and Query are a cluster query's request id and what it asks
	// (clusterquery.go).
	Req   string        `json:"req,omitempty"`
	Query *clusterQuery `json:"query,omitempty"`
}

const (
	opDisconnect = "disconnect"
	opQuery      = "query"
)

// clustered reports whether other nodes may share the broker: brokers
// that share presence are made for several nodes.
func (h *Hub) clustered() bool { return h.sharedPresence() != nil }

// startControl subscribes to the control channel and to the node's reply
// channel (clusterquery.go) when the node may have peers.
func (h *Hub) startControl(ctx context.Context) error {
	if !h.clustered() {
		return nil
	}
	if err := h.broker.Subscribe(ctx, ControlChannel); err != nil {
		return err
	}
	return h.broker.Subscribe(ctx, replyChannel(h.idPrefix))
}

// tellPeers publishes a control message for the other nodes.
func (h *Hub) tellPeers(ctx context.Context, m control) error {
	m.Node = h.idPrefix
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = h.broker.Publish(ctx, ControlChannel, &herald.Publication{ID: newPublishID(), Event: m.Op, Payload: b})
	return err
}

// handleControl acts on control messages from other nodes, published
// (stored in the control channel's log) or broadcast (ephemeral, as
// cluster queries are).
func (h *Hub) handleControl(pubs []*herald.Publication) {
	for _, p := range pubs {
		h.handleControlMessage(p.Payload)
	}
}

// handleControlMessage acts on one control message.
func (h *Hub) handleControlMessage(data []byte) {
	var m control
	if err := json.Unmarshal(data, &m); err != nil {
		h.log.Warn("malformed control message", "err", err)
		return
	}
	if m.Node == h.idPrefix {
		return
	}
	switch m.Op {
	case opDisconnect:
		if m.Code < 1000 || m.Code > 4999 {
			h.log.Warn("control disconnect with a bad close code", "code", m.Code)
			return
		}
		h.disconnectLocal(m.UserID, m.ConnectionID, m.Code, m.Reason)
	case opQuery:
		h.answerQuery(&m)
	default:
		h.log.Debug("unknown control message", "op", m.Op)
	}
}
