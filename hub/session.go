package hub

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/internal/ratelimit"
	"github.com/heraldrt/herald/protocol"
)

// publishTimeout bounds how long a publish may wait on the broker.
const publishTimeout = 10 * time.Second

// Session is one client connection's state in the hub. Idle connections
// are most of a node's memory, so the struct is kept small: fields are
// ordered to pack, and the connection id is derived from a number.
type Session struct {
	hub  *Hub
	conn Conn

	// lastRecv is when anything last arrived from the client, in ms.
	lastRecv atomic.Int64
	// lastPing belongs to the sweeper: when it last pinged, or, before
	// the session authenticates, when the session started.
	lastPing int64
	// num makes the connection id unique within the hub.
	num uint64

	// mu guards the fields below, and serializes writes to conn.
	mu       sync.Mutex
	identity *herald.Identity // nil until authenticated
	subs     []*subscription  // few per session: a slice is smaller than a map
	out      []*Frame         // queued, not yet written
	// slot is the session's index in Hub.sessions, guarded by Hub.sessMu.
	slot int32
	// closeCode is the close code of the connection's end: the server's,
	// or the client's (ClientClosed), or 1006 for a cut connection.
	closeCode int16
	// refused counts frames refused in a row for their rate; frames is
	// the connection's frame bucket, pubLimits its publish buckets per
	// namespace (made on first publish). The handler goroutine owns them.
	refused   uint16
	frames    ratelimit.Bucket
	pubLimits map[string]*ratelimit.Bucket
	warned    bool // token_expiring sent for this identity
	closed    bool // closing: nothing more is queued or written
	ended     bool // the transport reported the end; cleaned up
}

// NewSession starts a session for a new connection. If the hub is
// draining, the session is closed at once with 1012.
func (h *Hub) NewSession(conn Conn) *Session {
	now := h.clock.Now().UnixMilli()
	s := &Session{hub: h, conn: conn, num: h.nextNum.Add(1), lastPing: now}
	s.lastRecv.Store(now)
	h.addSession(s)
	if h.draining.Load() {
		s.close(protocol.CloseServiceRestart, protocol.CloseCodes[protocol.CloseServiceRestart])
	}
	return s
}

// ID returns the connection id sent in auth_ok: the hub's random prefix
// and the session's number.
func (s *Session) ID() string {
	return s.hub.idPrefix + strconv.FormatUint(s.num, 36)
}

// Touch records that something (a heartbeat reply) arrived from the
// client.
func (s *Session) Touch() {
	s.lastRecv.Store(s.hub.clock.Now().UnixMilli())
}

// HandleMessage handles one text frame from the client.
func (s *Session) HandleMessage(data []byte) {
	s.Touch()
	s.hub.Stats.FramesIn.Add(1)
	s.hub.Stats.BytesIn.Add(uint64(len(data)))
	frames, err := protocol.Decode(nil, data)
	if err != nil {
		s.sendError(asProtocolError(err), "", "")
		return
	}
	if !s.allowFrames(frames) {
		return
	}
	batcher, _ := s.hub.broker.(herald.BatchPublisher)
	for i := 0; i < len(frames); {
		if s.isClosed() {
			return
		}
		// A run of publishes in one batch frame goes to the broker in
		// one call, so it shares a commit and keeps its order.
		if j := publishRun(frames, i); batcher != nil && j-i > 1 {
			s.publishBatch(batcher, frames[i:j])
			i = j
			continue
		}
		s.handle(&frames[i])
		i++
	}
}

// HandleBinary answers a binary frame, which the protocol does not use.
func (s *Session) HandleBinary() {
	s.Touch()
	s.sendError(&protocol.Error{Code: protocol.CodeBadRequest, Message: "binary frames are not supported; send JSON text frames"}, "", "")
}

// Closed tells the hub that the connection is gone. It may be called more
// than once and from any goroutine.
func (s *Session) Closed() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.closed = true, true
	subs := s.subs
	s.subs = nil
	for _, sub := range subs {
		sub.stop()
	}
	s.out = nil
	id := s.identity
	code := s.closeCode
	s.mu.Unlock()
	for _, sub := range subs {
		s.hub.leave(sub)
	}
	if id != nil {
		s.hub.Stats.Authenticated.Add(-1)
		s.hub.removeUser(id.UserID)
		channels := make([]string, len(subs))
		for i, sub := range subs {
			channels[i] = sub.channel
		}
		// Off the transport's goroutine: the broker is a round trip
		// away. Shutdown waits for these.
		s.hub.presenceWG.Add(1)
		go func() {
			defer s.hub.presenceWG.Done()
			s.removePresence(channels...)
			s.userOffline(id.UserID)
		}()
		for _, sub := range subs {
			s.hub.notifyUnsubscribed(s, id, sub.channel)
		}
		if hooks := s.hub.cfg.Hooks; hooks != nil && s.hub.cfg.DisconnectHook {
			if code == 0 {
				code = protocol.CloseAbnormal
			}
			hooks.Disconnected(s.clientInfo(id), int(code))
		}
	}
	s.hub.removeSession(s)
}

// ClientClosed records the close code the client sent; the transport
// calls it when the client starts the close handshake.
func (s *Session) ClientClosed(code int) {
	s.mu.Lock()
	if s.closeCode == 0 {
		s.closeCode = int16(code)
	}
	s.mu.Unlock()
}

// clientInfo describes the session to hooks.
func (s *Session) clientInfo(id *herald.Identity) ClientInfo {
	return ClientInfo{ConnectionID: s.ID(), UserID: id.UserID, Info: id.Info, RemoteAddr: s.conn.RemoteAddr()}
}

func (s *Session) currentIdentity() *herald.Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identity
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// send queues one frame and flushes.
func (s *Session) send(json []byte) {
	s.mu.Lock()
	s.queueJSON(json)
	s.flushLocked()
	s.mu.Unlock()
}

func (s *Session) sendError(e *protocol.Error, ref, channel string) {
	s.mu.Lock()
	s.queueError(e, ref, channel)
	s.flushLocked()
	s.mu.Unlock()
}

// queueError queues an error frame; s.mu must be held.
func (s *Session) queueError(e *protocol.Error, ref, channel string) {
	s.hub.Stats.Errors.Add(1)
	s.queueJSON(protocol.AppendError(nil, e, ref, channel))
}

// queueRefusal queues the error answering frame f, echoing its id and
// channel only when they are valid: never echo what the client should
// not have sent. s.mu must be held.
func (s *Session) queueRefusal(perr *protocol.Error, f *protocol.Frame) {
	ref, channel := f.ID, f.Channel
	if !protocol.ValidID(ref) {
		ref = ""
	}
	if !protocol.ValidChannel(channel) {
		channel = ""
	}
	s.queueError(perr, ref, channel)
}

// queueJSON queues a frame for this session only; s.mu must be held.
func (s *Session) queueJSON(json []byte) {
	if !s.closed {
		s.out = append(s.out, &Frame{JSON: json})
	}
}

// queue queues a frame and reports whether the queue was empty before, so
// the caller knows to flush; s.mu must be held.
func (s *Session) queue(f *Frame) bool {
	if s.closed {
		return false
	}
	s.out = append(s.out, f)
	return len(s.out) == 1
}

func (s *Session) flush() {
	s.mu.Lock()
	s.flushLocked()
	s.mu.Unlock()
}

// flushLocked writes everything queued in one Conn.Write; s.mu must be
// held.
func (s *Session) flushLocked() {
	if s.closed || len(s.out) == 0 {
		return
	}
	frames := s.out
	pending, err := s.conn.Write(frames)
	st := &s.hub.Stats
	var bytes, msgs uint64
	for i, f := range frames {
		bytes += uint64(len(f.JSON))
		if f.seq != 0 {
			msgs++
		}
		frames[i] = nil
	}
	st.FramesOut.Add(uint64(len(frames)))
	st.BytesOut.Add(bytes)
	st.Delivered.Add(msgs)
	if cap(frames) <= 16 {
		s.out = frames[:0]
	} else {
		s.out = nil
	}
	switch {
	case err != nil:
		s.abortLocked()
	case pending > s.hub.cfg.MaxQueueBytes:
		s.hub.Stats.SlowConsumers.Add(1)
		s.closeLocked(protocol.CloseSlowConsumer, protocol.CloseCodes[protocol.CloseSlowConsumer])
	}
}

func (s *Session) close(code int, reason string) {
	s.mu.Lock()
	s.closeLocked(code, reason)
	s.mu.Unlock()
}

// closeLocked stops all queueing and asks the transport to close; the
// transport's Closed call does the cleanup. s.mu must be held.
func (s *Session) closeLocked(code int, reason string) {
	if s.closed {
		return
	}
	s.closed = true
	s.closeCode = int16(code)
	s.out = nil
	s.conn.Close(code, reason)
}

func (s *Session) abort() {
	s.mu.Lock()
	s.abortLocked()
	s.mu.Unlock()
}

func (s *Session) abortLocked() {
	if !s.closed {
		s.closeCode = protocol.CloseAbnormal
	}
	s.closed = true
	s.out = nil
	s.conn.Abort()
}

func asProtocolError(err error) *protocol.Error {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		return perr
	}
	return &protocol.Error{Code: protocol.CodeInternal, Message: "internal error"}
}
