package sse

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/protocol"
)

// pingEvent asks the client for a sign of life: SSE has no control frames
// that a client answers by itself, so the client answers with an empty
// POST /sse/send (PROTOCOL.md §19), which touches the session and
// produces no frame.
var pingEvent = appendEvent(nil, "ping", []byte("{}"))

// conn is one SSE stream: the hub.Conn of its session.
type conn struct {
	srv    *Server
	id     string
	remote string
	sess   *hub.Session
	rc     *http.ResponseController

	// mu guards buf and closing. buf holds the events not yet handed to
	// the stream's writer; closing is set once the close event is queued,
	// after which nothing more is.
	mu      sync.Mutex
	buf     []byte
	closing bool

	// pending counts bytes queued or being written: what the client has
	// not taken yet.
	pending atomic.Int64
	// wake tells the writer there is something to write (capacity 1).
	wake chan struct{}
	// cut ends the stream at once (Abort, or the close grace running out).
	cut     chan struct{}
	cutOnce sync.Once
	timer   atomic.Pointer[time.Timer]

	// reading serializes the frames of the session's POST requests: the
	// hub has one reader per session.
	reading sync.Mutex
}

// Write implements hub.Conn: the frames join the queue, and the writer
// sends them in one write and one flush.
func (c *conn) Write(frames []*hub.Frame) (int, error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return c.Pending(), nil
	}
	n := 0
	for _, f := range frames {
		ev := f.Wire(hub.WireSSE, messageEvent)
		c.buf = append(c.buf, ev...)
		n += len(ev)
	}
	c.pending.Add(int64(n))
	c.mu.Unlock()
	c.signal()
	return c.Pending(), nil
}

// Pending implements hub.Conn.
func (c *conn) Pending() int { return int(c.pending.Load()) }

// Ping implements hub.Conn.
func (c *conn) Ping() error {
	c.queue(pingEvent, false)
	return nil
}

// Close implements hub.Conn: a close event follows what is queued, then
// the stream ends; it is cut if that does not happen within the grace.
func (c *conn) Close(code int, reason string) {
	data := []byte(`{"code":` + strconv.Itoa(code) + `,"reason":` + strconv.Quote(reason) + `}`)
	if !c.queue(appendEvent(nil, "close", data), true) {
		return
	}
	c.timer.Store(time.AfterFunc(c.srv.cfg.CloseGrace, c.Abort))
}

// Abort implements hub.Conn: the stream ends now, even in the middle of
// a write to a client that takes nothing.
func (c *conn) Abort() {
	c.cutOnce.Do(func() {
		close(c.cut)
		_ = c.rc.SetWriteDeadline(time.Now())
	})
}

// RemoteAddr implements hub.Conn.
func (c *conn) RemoteAddr() string { return c.remote }

// queue adds an event unless the close is queued already; last makes it
// the close. It reports whether the event was queued.
func (c *conn) queue(ev []byte, last bool) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.closing = last
	c.buf = append(c.buf, ev...)
	c.pending.Add(int64(len(ev)))
	c.mu.Unlock()
	c.signal()
	return true
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take hands the queue to the writer, and whether the close is in it.
func (c *conn) take(spare []byte) (b []byte, closing bool) {
	c.mu.Lock()
	b, c.buf = c.buf, spare[:0]
	closing = c.closing
	c.mu.Unlock()
	return b, closing
}

// run writes the stream until the close is written, the client goes or
// the stream is cut. It runs on the GET request's goroutine.
func (c *conn) run(w http.ResponseWriter, done <-chan struct{}) {
	var spare []byte
	for {
		select {
		case <-c.wake:
		case <-c.cut:
			return
		case <-done:
			return
		}
		b, closing := c.take(spare)
		if len(b) > 0 {
			_ = c.rc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			_, err := w.Write(b)
			if err == nil {
				err = c.rc.Flush()
			}
			c.pending.Add(-int64(len(b)))
			if err != nil {
				return
			}
		}
		if closing {
			return
		}
		if cap(b) <= 64<<10 {
			spare = b
		} else {
			spare = nil
		}
	}
}

// ended runs when the stream's request returns.
func (c *conn) ended() {
	if t := c.timer.Load(); t != nil {
		t.Stop()
	}
	c.sess.Closed()
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
