package ws

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/heraldrt/herald/hub"
)

const opPong = 0xA

// conn is one WebSocket connection: the hub.Conn of its session.
type conn struct {
	srv  *Server
	ws   *websocket.Conn
	nb   *nbio.Conn
	sess *hub.Session

	// handed counts bytes given to nbio, written the bytes the socket
	// took; the difference is what the client has not taken yet.
	handed  atomic.Int64
	written atomic.Int64

	// timer cuts the connection if the close handshake does not finish.
	timer atomic.Pointer[time.Timer]
	// ready is set once sess is; handlers that race the open wait for it.
	// closing is set once a close frame was sent or received.
	ready, closing atomic.Bool
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Write implements hub.Conn: one socket write for all the frames.
func (c *conn) Write(frames []*hub.Frame) (int, error) {
	if len(frames) == 1 {
		return c.writeRaw(frames[0].Wire(hub.WireWebSocket, textFrame))
	}
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for _, f := range frames {
		buf = appendFrame(buf, opText, f.JSON)
	}
	n, err := c.writeRaw(buf)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		bufPool.Put(bp)
	}
	return n, err
}

// writeRaw writes bytes that are already WebSocket frames. nbio copies
// what the socket does not take at once, so b may be reused afterwards.
func (c *conn) writeRaw(b []byte) (int, error) {
	c.handed.Add(int64(len(b)))
	_, err := c.nb.Write(b)
	return c.Pending(), err
}

// Pending implements hub.Conn.
func (c *conn) Pending() int {
	if p := c.handed.Load() - c.written.Load(); p > 0 {
		return int(p)
	}
	return 0
}

// Ping implements hub.Conn.
func (c *conn) Ping() error {
	_, err := c.writeRaw(pingFrame)
	return err
}

// Close implements hub.Conn: the close frame follows what is queued, and
// the connection is cut when the client answers it or after the grace.
func (c *conn) Close(code int, reason string) {
	if c.closing.Swap(true) {
		return
	}
	_, _ = c.writeRaw(closeFrame(code, reason))
	c.timer.Store(time.AfterFunc(c.srv.cfg.CloseGrace, c.Abort))
}

// Abort implements hub.Conn.
func (c *conn) Abort() {
	c.closing.Store(true)
	_ = c.nb.Close()
}

// RemoteAddr implements hub.Conn.
func (c *conn) RemoteAddr() string {
	if a := c.nb.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// closeReceived handles the client's close frame: answer it if the client
// started the close handshake, then cut the connection.
func (c *conn) closeReceived(code int) {
	c.sess.ClientClosed(code)
	if !c.closing.Swap(true) {
		if code == 1005 { // no status code was sent
			_, _ = c.writeRaw(appendFrame(nil, opClose, nil))
		} else {
			_, _ = c.writeRaw(closeFrame(code, ""))
		}
	}
	_ = c.nb.Close()
}

// ended runs when nbio reports the connection closed.
func (c *conn) ended() {
	if t := c.timer.Load(); t != nil {
		t.Stop()
	}
	if c.ready.Load() {
		c.sess.Closed()
	}
}

// connOf returns the conn of a websocket connection, or nil before it is
// set up.
func connOf(c *websocket.Conn) *conn {
	cc, _ := c.Session().(*conn)
	if cc == nil || !cc.ready.Load() {
		return nil
	}
	return cc
}

// waitConn is connOf for handlers: a client may send its first frame the
// moment it reads the upgrade response, a hair before OnOpen has set the
// session up on the upgrading goroutine. Wait for that briefly.
//
// It reads the session under the lock SetSession takes, which orders the
// conn's setup on the upgrading goroutine before this read; the message
// handlers it serves never run with that lock held.
func waitConn(c *websocket.Conn) *conn {
	for i := 0; i < 1000; i++ {
		if cc, _ := c.SessionWithLock().(*conn); cc != nil && cc.ready.Load() {
			return cc
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func connOfNB(c *nbio.Conn) *conn {
	wsc, ok := c.Session().(*websocket.Conn)
	if !ok {
		return nil
	}
	cc, _ := wsc.Session().(*conn)
	return cc
}

var _ hub.Conn = (*conn)(nil)
