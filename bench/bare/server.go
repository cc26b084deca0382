package bare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/heraldrt/herald/internal/nbiowarm"
	"github.com/heraldrt/herald/protocol"
)

// Server is a running bare broadcast server. Like Herald's transport, it
// upgrades on the standard library's HTTP server and hands each
// connection to an nbio event loop, so that the two differ only in what
// happens after the upgrade.
type Server struct {
	engine *nbhttp.Engine
	http   *http.Server
	ln     net.Listener
	served chan struct{}

	// mu guards subs and index.
	mu    sync.RWMutex
	subs  []*nbio.Conn
	index map[*nbio.Conn]int

	// pubMu serializes publishes so that seq order is write order.
	pubMu     sync.Mutex
	seq       uint64 // guarded by pubMu
	delivered atomic.Uint64
}

// Start listens on addr (host:port; port 0 picks one) and serves /ws and
// /readyz.
func Start(addr string) (*Server, error) {
	s := &Server{index: make(map[*nbio.Conn]int), served: make(chan struct{})}
	s.engine = nbhttp.NewEngine(nbhttp.Config{Name: "herald-bare", ReleaseWebsocketPayload: true})
	if err := s.engine.Start(); err != nil {
		return nil, fmt.Errorf("bare: start event loop: %w", err)
	}
	if err := nbiowarm.WarmUp(s.engine.Engine, s.engine.NPoller); err != nil {
		s.engine.Stop()
		return nil, fmt.Errorf("bare: %w", err)
	}
	up := websocket.NewUpgrader()
	up.Engine = s.engine
	up.BlockingModTrasferConnToPoller = true
	up.KeepaliveTime = 0 // as Herald's transport: no read deadline per frame
	up.OnMessage(s.onMessage)
	up.OnClose(func(c *websocket.Conn, _ error) { s.leave(c) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		_, _ = up.Upgrade(w, r, nil) // Upgrade answers failures itself
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.engine.Stop()
		return nil, fmt.Errorf("bare: %w", err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the server's WebSocket endpoint.
func (s *Server) URL() string { return "ws://" + s.Addr() + "/ws" }

// Delivered returns how many message frames were written to subscribers.
func (s *Server) Delivered() uint64 { return s.delivered.Load() }

// Close stops the server, cutting every connection.
func (s *Server) Close(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	<-s.served
	s.engine.Stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) onMessage(c *websocket.Conn, mt websocket.MessageType, data []byte) {
	if mt != websocket.TextMessage {
		return
	}
	frames, err := protocol.Decode(nil, data)
	if err != nil {
		return
	}
	for i := range frames {
		f := &frames[i]
		switch f.Type {
		case protocol.TypeAuth:
			s.reply(c, protocol.AppendAuthOK(nil, f.ID, "bare", "bare", time.Now().Add(time.Hour).UnixMilli()))
		case protocol.TypeSubscribe:
			s.join(c)
			s.pubMu.Lock()
			head := s.seq
			s.pubMu.Unlock()
			s.reply(c, protocol.AppendSubscribed(nil, f.ID, f.Channel, head, false))
		case protocol.TypePublish:
			seq, ts := s.broadcast(f)
			s.reply(c, protocol.AppendAck(nil, f.ID, f.Channel, seq, ts))
		case protocol.TypePing:
			s.reply(c, protocol.AppendPong(nil, f.ID, time.Now().UnixMilli()))
		}
	}
}

// broadcast encodes f once as a message frame, WebSocket header included,
// and writes those bytes to every subscriber.
func (s *Server) broadcast(f *protocol.Frame) (seq uint64, ts int64) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.seq++
	ts = time.Now().UnixMilli()
	m := protocol.Message{Channel: f.Channel, Seq: s.seq, ID: f.ID, Event: f.Event, Payload: f.Payload, Timestamp: ts, From: "bare"}
	frame := appendTextFrame(nil, protocol.AppendMessage(nil, &m))
	s.mu.RLock()
	for _, c := range s.subs {
		_, _ = c.Write(frame)
	}
	n := len(s.subs)
	s.mu.RUnlock()
	s.delivered.Add(uint64(n))
	return s.seq, ts
}

func (s *Server) reply(c *websocket.Conn, json []byte) {
	_ = c.WriteMessage(websocket.TextMessage, json)
}

func (s *Server) join(c *websocket.Conn) {
	nb, ok := c.UnderlayerConn().(*nbio.Conn)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.index[nb]; dup {
		return
	}
	s.index[nb] = len(s.subs)
	s.subs = append(s.subs, nb)
}

func (s *Server) leave(c *websocket.Conn) {
	nb, ok := c.UnderlayerConn().(*nbio.Conn)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[nb]
	if !ok {
		return
	}
	last := len(s.subs) - 1
	s.subs[i] = s.subs[last]
	s.index[s.subs[i]] = i
	s.subs[last] = nil
	s.subs = s.subs[:last]
	delete(s.index, nb)
}

// appendTextFrame appends an unmasked, final text frame holding payload.
func appendTextFrame(dst, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x81, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, payload...)
}
