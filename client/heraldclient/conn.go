package heraldclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/protocol"
)

// closeTimeout bounds the close handshake of Close; a server that does not
// answer it in time is cut.
const closeTimeout = 2 * time.Second

// conn is one WebSocket connection. It runs exactly two goroutines: the
// reader, which decodes server frames and hands them to the Client, and the
// writer, which sends what others queue and the heartbeat pings. Nobody
// else touches the socket, except the run loop for the final close.
type conn struct {
	c  *Client
	ws *websocket.Conn
	// ctx ends when the connection is done for; cancelling it aborts the
	// socket (coder/websocket closes a connection whose read or write
	// context ends). It does not derive from the client's context, so that
	// Close can shut the connection down with a proper close handshake.
	ctx    context.Context
	cancel context.CancelFunc

	// authID is the id of the first auth frame; set before it is sent.
	authID string
	// authed is set by the reader at the first auth_ok; id and userID are
	// written before authResult is sent and read after it is received.
	authed     atomic.Bool
	authResult chan error // capacity 1
	id, userID string
	// refresh carries token_expiring to the run loop; capacity 1.
	refresh chan struct{}
	// refreshID is the id of the last refresh auth frame; guarded by
	// Client.mu.
	refreshID string
	// lastRecv is when anything (a frame or a WebSocket ping) last
	// arrived, in Unix nanoseconds.
	lastRecv atomic.Int64

	readerDone, writerDone chan struct{}

	// mu guards queue, the frames waiting for the writer.
	mu    sync.Mutex
	queue [][]byte
	wake  chan struct{} // capacity 1

	causeMu sync.Mutex
	cause   error // the first reason the connection ended
}

func newConn(c *Client) *conn {
	cn := &conn{
		c:          c,
		authResult: make(chan error, 1),
		refresh:    make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		wake:       make(chan struct{}, 1),
	}
	cn.ctx, cn.cancel = context.WithCancel(context.Background())
	cn.touch()
	return cn
}

// start runs the reader and the writer on ws.
func (cn *conn) start(ws *websocket.Conn) {
	cn.ws = ws
	go cn.readLoop()
	go cn.writeLoop()
}

// send queues one encoded frame for the writer. It never blocks; it may be
// called from any goroutine, with Client.mu held or not. Frames queued on a
// connection that ends are dropped: whatever matters (subscriptions,
// publishes) is sent again on the next one.
func (cn *conn) send(frame []byte) {
	cn.mu.Lock()
	cn.queue = append(cn.queue, frame)
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

func (cn *conn) touch() { cn.lastRecv.Store(time.Now().UnixNano()) }

// fail records why the connection ended; the first reason wins.
func (cn *conn) fail(err error) {
	cn.causeMu.Lock()
	if cn.cause == nil {
		cn.cause = err
	}
	cn.causeMu.Unlock()
}

func (cn *conn) err() error {
	cn.causeMu.Lock()
	defer cn.causeMu.Unlock()
	return cn.cause
}

// shutdown aborts the connection and waits for its goroutines.
func (cn *conn) shutdown() {
	cn.cancel()
	if cn.ws != nil {
		<-cn.readerDone
		<-cn.writerDone
		_ = cn.ws.CloseNow()
	}
}

// closeGracefully closes with 1000 and a close handshake, bounded by
// closeTimeout, then shuts down.
func (cn *conn) closeGracefully() {
	cn.fail(ErrClosed)
	t := time.AfterFunc(closeTimeout, cn.cancel)
	_ = cn.ws.Close(websocket.StatusNormalClosure, "client closed")
	t.Stop()
	cn.shutdown()
}

func (cn *conn) readLoop() {
	defer close(cn.readerDone)
	defer cn.cancel() // stops the writer
	for {
		typ, data, err := cn.ws.Read(cn.ctx)
		if err != nil {
			cn.fail(readError(err))
			return
		}
		cn.touch()
		if typ != websocket.MessageText {
			cn.c.log.Warn("heraldclient: ignoring a binary message from the server")
			continue
		}
		frames, err := decodeServer(data)
		if err != nil {
			cn.c.log.Warn("heraldclient: ignoring an undecodable server message", "err", err)
			continue
		}
		for i := range frames {
			cn.c.handle(cn, &frames[i])
		}
	}
}

// readError turns a read error into the connection's end cause.
func readError(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return fmt.Errorf("heraldclient: connection lost: %w", err)
}

// decodeServer decodes one server message: a frame or a batch of frames.
// protocol.Decode limits batches to what a server accepts from clients; a
// server may batch more, so a larger array is decoded here.
func decodeServer(data []byte) ([]protocol.Frame, error) {
	frames, err := protocol.Decode(nil, data)
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Code == protocol.CodeTooLarge {
		err = json.Unmarshal(data, &frames)
	}
	return frames, err
}

// writeLoop sends queued frames, coalescing what piled up into batches, and
// runs the heartbeat: a ping every PingInterval, and the verdict that the
// server is gone when nothing arrived within PongTimeout after one.
func (cn *conn) writeLoop() {
	defer close(cn.writerDone)
	cfg := &cn.c.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	pong := time.NewTimer(cfg.PongTimeout)
	pong.Stop()
	defer pong.Stop()
	var pongArmed bool
	var pingSent int64
	var buf []byte
	for {
		select {
		case <-cn.ctx.Done():
			return
		case <-cn.wake:
		case <-ping.C:
			if !cn.authed.Load() {
				continue // the auth deadline covers the handshake
			}
			cn.send(pingFrame)
			if !pongArmed {
				pingSent, pongArmed = time.Now().UnixNano(), true
				pong.Reset(cfg.PongTimeout)
			}
		case <-pong.C:
			pongArmed = false
			if cn.lastRecv.Load() < pingSent {
				cn.fail(ErrHeartbeatTimeout)
				cn.cancel()
				return
			}
			continue
		}
		var err error
		if buf, err = cn.flush(buf); err != nil {
			cn.fail(fmt.Errorf("heraldclient: write: %w", err))
			cn.cancel()
			return
		}
	}
}

var pingFrame = []byte(`{"type":"ping"}`)

// flush writes everything queued. Frames are joined into JSON-array
// batches of at most protocol.MaxBatch frames and MaxFrameSize bytes, so a
// burst (the resubscribes and outbox after a reconnect, a publisher's
// backlog) costs few WebSocket messages. buf is reused between calls.
func (cn *conn) flush(buf []byte) ([]byte, error) {
	cn.mu.Lock()
	q := cn.queue
	cn.queue = nil
	cn.mu.Unlock()
	max := cn.c.cfg.MaxFrameSize
	for len(q) > 0 {
		n, size := 1, len(q[0])+2
		for n < len(q) && n < protocol.MaxBatch && size+len(q[n])+1 <= max {
			size += len(q[n]) + 1
			n++
		}
		msg := q[0]
		if n > 1 {
			buf = append(buf[:0], '[')
			for i, f := range q[:n] {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, f...)
			}
			msg = append(buf, ']')
			buf = msg
		}
		ctx, cancel := context.WithTimeout(cn.ctx, cn.c.cfg.WriteTimeout)
		err := cn.ws.Write(ctx, websocket.MessageText, msg)
		cancel()
		if err != nil {
			return buf, err
		}
		q = q[n:]
	}
	return buf, nil
}
