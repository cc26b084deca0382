package heraldclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/protocol"
)

// wsLink is the WebSocket transport: one socket, a text message per frame
// or batch.
type wsLink struct {
	c  *Client
	ws *websocket.Conn
	// buf is the writer's scratch space for batches.
	buf []byte
}

// dialWS opens a WebSocket to endpoint; ctx bounds the handshake. touch
// is called for every WebSocket ping from the server, a sign of life too.
func dialWS(ctx context.Context, c *Client, endpoint string, touch func()) (*wsLink, error) {
	ws, _, err := websocket.Dial(ctx, endpoint, &websocket.DialOptions{
		HTTPClient:     c.httpClient,
		HTTPHeader:     c.cfg.Header,
		OnPingReceived: func(context.Context, []byte) bool { touch(); return true },
	})
	if err != nil {
		return nil, fmt.Errorf("heraldclient: dial %s: %w", endpoint, err)
	}
	ws.SetReadLimit(c.cfg.ReadLimit)
	return &wsLink{c: c, ws: ws}, nil
}

func (l *wsLink) read(ctx context.Context) ([]byte, error) {
	for {
		typ, data, err := l.ws.Read(ctx)
		if err != nil {
			return nil, readError(err)
		}
		if typ == websocket.MessageText {
			return data, nil
		}
		l.c.log.Warn("heraldclient: ignoring a binary message from the server")
	}
}

// write sends frames as few WebSocket messages: JSON-array batches of at
// most protocol.MaxBatch frames and MaxFrameSize bytes, so that a burst
// (the resubscribes and outbox after a reconnect, a publisher's backlog)
// costs few messages. Each message write is bounded by WriteTimeout.
func (l *wsLink) write(ctx context.Context, frames [][]byte) error {
	var err error
	l.buf, err = batches(frames, l.c.cfg.MaxFrameSize, protocol.MaxBatch, l.buf, func(msg []byte) error {
		wctx, cancel := context.WithTimeout(ctx, l.c.cfg.WriteTimeout)
		defer cancel()
		return l.ws.Write(wctx, websocket.MessageText, msg)
	})
	return err
}

// close sends 1000 and waits for the server's close frame; cancelling the
// conn's context, which the reader reads with, cuts it short.
func (l *wsLink) close() {
	_ = l.ws.Close(websocket.StatusNormalClosure, "client closed")
}

func (l *wsLink) abort() { _ = l.ws.CloseNow() }

// readError turns a read error into the connection's end cause.
func readError(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return fmt.Errorf("heraldclient: connection lost: %w", err)
}

var _ link = (*wsLink)(nil)
