package heraldclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// closeTimeout bounds the close handshake of Close; a server that does not
// answer it in time is cut.
const closeTimeout = 2 * time.Second

// conn is one connection to the server, over the link of its transport
// (a WebSocket or an SSE stream with its POSTs). It runs exactly two
// goroutines: the reader, which decodes server frames and hands them to
// the Client, and the writer, which sends what others queue and the
// heartbeat pings. Nobody else touches the link, except the run loop for
// the final close.
type conn struct {
	c         *Client
	link      link
	transport Transport
	// ctx ends when the connection is done for; cancelling it aborts the
	// link (coder/websocket closes a connection whose read or write
	// context ends; the SSE stream is a request with this context). It
	// does not derive from the client's context, so that Close can shut
	// the connection down with a proper close handshake.
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

// start runs the reader and the writer on l.
func (cn *conn) start(l link) {
	cn.link = l
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
	cn.wakeWriter()
}

// wakeWriter makes the writer look at its queue and its link's dues.
func (cn *conn) wakeWriter() {
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
	if cn.link != nil {
		<-cn.readerDone
		<-cn.writerDone
		cn.link.abort()
	}
}

// closeGracefully closes with 1000 and a close handshake where the
// transport has one, bounded by closeTimeout, then shuts down.
func (cn *conn) closeGracefully() {
	cn.fail(ErrClosed)
	t := time.AfterFunc(closeTimeout, cn.cancel)
	cn.link.close()
	t.Stop()
	cn.shutdown()
}

func (cn *conn) readLoop() {
	defer close(cn.readerDone)
	defer cn.cancel() // stops the writer
	for {
		data, err := cn.link.read(cn.ctx)
		if err != nil {
			cn.fail(err)
			return
		}
		cn.touch()
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
		if err := cn.flush(); err != nil {
			if errors.Is(err, errSessionGone) {
				// The stream says why the session ended (its close
				// event, or 1006); that cause must win, since some
				// codes stop the client.
				t := time.NewTimer(closeTimeout)
				select {
				case <-cn.readerDone:
				case <-t.C:
				}
				t.Stop()
			}
			cn.fail(fmt.Errorf("heraldclient: write: %w", err))
			cn.cancel()
			return
		}
	}
}

var pingFrame = []byte(`{"type":"ping"}`)

// flush hands everything queued to the link, which batches it; it is
// called with an empty queue too, when the link has something of its own
// to send.
func (cn *conn) flush() error {
	cn.mu.Lock()
	q := cn.queue
	cn.queue = nil
	cn.mu.Unlock()
	return cn.link.write(cn.ctx, q)
}
