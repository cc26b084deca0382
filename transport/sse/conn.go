package sse

import (
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/protocol"
)

// pingEvent asks the client for a sign of life: SSE has no control frames
// that a client answers by itself, so the client answers with an empty
// POST /sse/send (PROTOCOL.md §19), which touches the session and
// produces no frame.
var pingEvent = appendEvent(nil, "ping", []byte("{}"))

// tryWrite is how long a write from the hub's goroutine may wait for the
// socket: a full socket's bytes go to the backlog instead.
const tryWrite = time.Millisecond

// conn is one SSE stream on a hijacked connection: the hub.Conn of its
// session. Writes go straight to the socket from the caller, as the
// WebSocket transport's do, so that what the kernel takes counts as taken
// (a replay of a megabyte is no slow consumer); what it does not take
// waits in a backlog that one drain goroutine writes with blocking
// writes. Pending is the backlog: the bytes the client has not taken.
type conn struct {
	srv    *Server
	id     string
	remote string
	nc     net.Conn
	sess   *hub.Session

	// mu guards everything below. While draining, the drain goroutine
	// owns the socket's writes and others only append to backlog;
	// inflight is what it is writing. closing is set once the close
	// event is queued; closed once the socket is.
	mu       sync.Mutex
	backlog  []byte
	inflight int
	draining bool
	closing  bool
	closed   bool
	timer    *time.Timer

	// reading serializes the frames of the session's POST requests: the
	// hub has one reader per session.
	reading sync.Mutex
}

// Write implements hub.Conn.
func (c *conn) Write(frames []*hub.Frame) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return c.pendingLocked(), nil
	}
	if len(frames) == 1 {
		return c.writeLocked(frames[0].Wire(hub.WireSSE, messageEvent))
	}
	var b []byte
	for _, f := range frames {
		b = append(b, f.Wire(hub.WireSSE, messageEvent)...)
	}
	return c.writeLocked(b)
}

// Pending implements hub.Conn.
func (c *conn) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked()
}

func (c *conn) pendingLocked() int { return len(c.backlog) + c.inflight }

// Ping implements hub.Conn.
func (c *conn) Ping() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil
	}
	_, err := c.writeLocked(pingEvent)
	return err
}

// Close implements hub.Conn: a close event follows what is queued, then
// the connection ends; it is cut if that does not happen within the
// grace.
func (c *conn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	_, _ = c.writeLocked(appendEvent(nil, "close", []byte(`{"code":`+strconv.Itoa(code)+`,"reason":`+strconv.Quote(reason)+`}`)))
	c.closing = true
	if !c.draining {
		c.closeLocked()
		return
	}
	c.timer = time.AfterFunc(c.srv.cfg.CloseGrace, c.Abort)
}

// Abort implements hub.Conn: the connection ends now, even in the middle
// of a write to a client that takes nothing.
func (c *conn) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	c.closeLocked()
}

// RemoteAddr implements hub.Conn.
func (c *conn) RemoteAddr() string { return c.remote }

// writeLocked writes b to the socket or, while the drain goroutine runs
// or when the socket does not take it all, to the backlog.
func (c *conn) writeLocked(b []byte) (int, error) {
	if c.closed {
		return c.pendingLocked(), net.ErrClosed
	}
	if c.draining {
		c.backlog = append(c.backlog, b...)
		return c.pendingLocked(), nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(tryWrite))
	n, err := c.nc.Write(b)
	switch {
	case err == nil:
		return 0, nil
	case !errors.Is(err, os.ErrDeadlineExceeded):
		c.closeLocked()
		return 0, err
	}
	c.backlog = append(c.backlog, b[n:]...)
	c.draining = true
	go c.drain()
	return c.pendingLocked(), nil
}

// drain writes the backlog with blocking writes until it is empty, then
// hands the socket back to writeLocked; it ends the connection after the
// close event, or when a write fails or stalls for WriteTimeout.
func (c *conn) drain() {
	c.mu.Lock()
	for len(c.backlog) > 0 && !c.closed {
		b := c.backlog
		c.backlog = nil
		c.inflight = len(b)
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
		_, err := c.nc.Write(b)
		c.mu.Lock()
		c.inflight = 0
		if err != nil {
			c.closeLocked()
		}
	}
	c.draining = false
	if c.closing {
		c.closeLocked()
	}
	c.mu.Unlock()
}

// closeLocked closes the socket once; the read loop then ends the session.
func (c *conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.backlog = nil
	if c.timer != nil {
		c.timer.Stop()
	}
	_ = c.nc.Close()
}

// waitGone blocks until the client closes its side or the socket is
// closed here: a GET stream sends nothing after its request.
func (c *conn) waitGone() {
	buf := make([]byte, 512)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			return
		}
	}
}

// handle passes the frames of one POST body to the session, in order. A
// frame over the size limit closes the session with 1009, as over a
// WebSocket; handle reports false then.
func (c *conn) handle(body []byte) bool {
	c.reading.Lock()
	defer c.reading.Unlock()
	ok := true
	splitFrames(body, func(frame []byte) bool {
		if len(frame) > c.srv.cfg.MaxFrameSize {
			c.Close(protocol.CloseTooBig, "frame too large")
			ok = false
			return false
		}
		c.sess.HandleMessage(frame)
		return true
	})
	if ok {
		c.sess.Touch()
	}
	return ok
}
