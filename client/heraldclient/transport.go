package heraldclient

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// Transport names a way to carry the protocol's frames to the server.
type Transport int

// The transports, in the order Config.Transports tries them by default.
const (
	// TransportWebSocket is one WebSocket per connection (the endpoint
	// /ws): frames both ways on one socket.
	TransportWebSocket Transport = iota + 1
	// TransportSSE is the HTTP fallback of PROTOCOL.md §19: server frames
	// come down one Server-Sent Events stream (GET /sse), client frames go
	// up in POST /sse/send requests. It works where proxies strip the
	// WebSocket upgrade.
	TransportSSE
)

// String returns "websocket", "sse" or "Transport(n)".
func (t Transport) String() string {
	switch t {
	case TransportWebSocket:
		return "websocket"
	case TransportSSE:
		return "sse"
	}
	return fmt.Sprintf("Transport(%d)", int(t))
}

// retryPreferredEvery is how often a client that fell back to a later
// transport tries the first one again: every this many attempts. A
// network that blocked WebSocket may stop doing so (a phone leaves the
// hotel Wi-Fi), and WebSocket is the cheaper transport; trying it on
// every reconnect would double the cost of each reconnect where it stays
// blocked.
const retryPreferredEvery = 5

// link is one transport's connection under a conn: it moves encoded
// frames and knows nothing of what they mean. A conn's reader is the only
// caller of read and its writer the only caller of write; close and abort
// are called once the reader and writer are done or being stopped.
type link interface {
	// read blocks for the next server message, a frame or a JSON array of
	// frames, until ctx ends. It returns a *CloseError when the server
	// closed the connection with a code, and any other error when the
	// connection was lost.
	read(ctx context.Context) ([]byte, error)
	// write sends the queued frames, in order, each encoded and at most
	// Config.MaxFrameSize bytes, batching them as the transport allows.
	// frames may be empty: a link that owes the server an answer (the SSE
	// pong) sends it then. The link does not keep frames.
	write(ctx context.Context, frames [][]byte) error
	// close ends the connection politely: a close handshake where the
	// transport has one. The caller bounds it by cancelling the conn's
	// context.
	close()
	// abort releases the connection at once.
	abort()
}

// transportPicker chooses the transport of each connection attempt. It
// sticks to the transport that last authenticated; an attempt that fails
// before auth_ok moves it to the next transport of the list, and off the
// first transport it tries the first one again every retryPreferredEvery
// attempts. The run loop is its only user.
type transportPicker struct {
	list []Transport
	// cur is the index the next attempt uses, unless it is the turn of
	// the first transport again.
	cur int
	// away counts the attempts made since cur left the first transport.
	away int
}

// next returns the index of the transport for the next attempt.
func (p *transportPicker) next() int {
	if p.cur == 0 {
		return 0
	}
	p.away++
	if p.away%retryPreferredEvery == 0 {
		return 0
	}
	return p.cur
}

// failed records that an attempt with transport i failed before auth_ok.
// It reports whether every transport has now failed in turn, so that the
// run loop moves on to the next endpoint.
func (p *transportPicker) failed(i int) (wrapped bool) {
	if i != p.cur {
		// The first transport, tried again from a fallback, still fails:
		// stay on the fallback, at the same endpoint.
		return false
	}
	p.cur = (i + 1) % len(p.list)
	if p.cur == 0 {
		p.away = 0
		return true
	}
	return false
}

// connected records that an attempt with transport i authenticated.
func (p *transportPicker) connected(i int) {
	if i == 0 {
		p.away = 0
	}
	p.cur = i
}

// sseEndpoint derives the SSE stream URL from a WebSocket endpoint:
// ws becomes http and wss https, and the last path element ("ws" in
// the server's /ws) becomes "sse".
func sseEndpoint(wsURL string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	p := strings.TrimSuffix(u.Path, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[:i]
	} else {
		p = ""
	}
	u.Path = p + "/sse"
	u.RawPath = ""
	return u.String(), nil
}

// batches cuts frames into messages of at most protocol.MaxBatch frames
// and max bytes: one frame as it is, more as a JSON array. It calls fn with
// each message; buf is scratch space that fn must not keep, returned for
// reuse.
func batches(frames [][]byte, max, maxBatch int, buf []byte, fn func(msg []byte) error) ([]byte, error) {
	for len(frames) > 0 {
		n, size := 1, len(frames[0])+2
		for n < len(frames) && n < maxBatch && size+len(frames[n])+1 <= max {
			size += len(frames[n]) + 1
			n++
		}
		msg := frames[0]
		if n > 1 {
			buf = append(buf[:0], '[')
			for i, f := range frames[:n] {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, f...)
			}
			msg = append(buf, ']')
			buf = msg
		}
		if err := fn(msg); err != nil {
			return buf, err
		}
		frames = frames[n:]
	}
	return buf, nil
}
