package sse

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/origin"
	"github.com/heraldrt/herald/internal/ratelimit"
)

// SessionHeader names the stream a POST /sse/send belongs to. The session
// id travels in the stream's first event and in this header, never in a
// URL, where proxies would log it.
const SessionHeader = "Herald-Session"

// Config configures the transport. The zero value of each field is its
// documented default.
type Config struct {
	// MaxFrameSize is the largest frame a client may send, in bytes; a
	// larger one closes the session with 1009. Zero means 64 KiB.
	MaxFrameSize int
	// MaxBodySize is the largest POST body, in bytes (413 past it). Zero
	// means 16 frames of MaxFrameSize.
	MaxBodySize int
	// CloseGrace is how long the close event may take to reach the client
	// before the stream is cut. Zero means 5s.
	CloseGrace time.Duration
	// WriteTimeout bounds one write to a stream; a client that takes
	// nothing for this long is cut. Zero means 30s.
	WriteTimeout time.Duration
	// AllowedOrigins, ConnRate and ConnBurst are as in the WebSocket
	// transport: browser origins that may open a stream (and send on it),
	// and new streams per second per client IP (429 past them; negative
	// ConnRate: no limit).
	AllowedOrigins []string
	ConnRate       float64
	ConnBurst      int
	// Logger receives the transport's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Server serves SSE sessions of a hub: Stream is GET /sse and Send is
// POST /sse/send.
type Server struct {
	hub     *hub.Hub
	cfg     Config
	log     *slog.Logger
	origins *origin.Checker
	perIP   *ratelimit.Keyed

	// mu guards conns: the open streams by session id.
	mu    sync.RWMutex
	conns map[string]*conn
}

// New returns a transport for h.
func New(h *hub.Hub, cfg Config) *Server {
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = 64 << 10
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = 16 * cfg.MaxFrameSize
	}
	if cfg.CloseGrace <= 0 {
		cfg.CloseGrace = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.ConnRate == 0 {
		cfg.ConnRate = 20
	}
	if cfg.ConnBurst <= 0 {
		cfg.ConnBurst = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{hub: h, cfg: cfg, log: cfg.Logger, origins: origin.New(cfg.AllowedOrigins), conns: map[string]*conn{}}
	if cfg.ConnRate > 0 {
		s.perIP = &ratelimit.Keyed{Rate: cfg.ConnRate, Burst: cfg.ConnBurst}
	}
	return s
}

// Stream serves GET /sse: it opens a session and streams its frames. The
// first event, "session", carries the id that POST /sse/send names.
func (s *Server) Stream(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r) {
		return
	}
	if !s.hub.Accepting() {
		http.Error(w, "draining: reconnect to another node", http.StatusServiceUnavailable)
		return
	}
	if s.perIP != nil && !s.perIP.Allow(clientIP(r), time.Now()) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many connections from this address; retry later", http.StatusTooManyRequests)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		httpError(w, http.StatusHTTPVersionNotSupported, "bad_request", "the SSE stream needs HTTP/1.1")
		return
	}
	// The stream's head, with the CORS headers allowed set, then the
	// session event and a 2 KiB comment: some proxies and old browsers
	// hold back a response's first bytes until they have that many. The
	// body ends when the connection does.
	c := &conn{srv: s, id: newSessionID(), remote: r.RemoteAddr}
	var head []byte
	head = append(head, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n"...)
	for k, vs := range w.Header() {
		for _, v := range vs {
			head = append(head, k+": "+v+"\r\n"...)
		}
	}
	head = append(head, "\r\n"...)
	head = appendEvent(head, "session", []byte(`{"session":"`+c.id+`"}`))
	head = append(head, ':')
	for range 2048 {
		head = append(head, ' ')
	}
	head = append(head, '\n', '\n')
	nc, rw, err := hj.Hijack()
	if err != nil {
		s.log.Debug("sse hijack failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	defer nc.Close()
	// The session exists before the client can learn its id, so that its
	// first POST finds it; until the head is out, whatever the hub writes
	// waits in the backlog (draining marks the socket as taken).
	c.nc = nc
	c.draining = true
	c.sess = s.hub.NewSession(c)
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
	_ = nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	_, err = rw.Write(head)
	if err == nil {
		err = rw.Flush()
	}
	c.mu.Lock()
	if err != nil {
		c.closeLocked()
	}
	c.mu.Unlock()
	go c.drain() // hands the socket over, writing what waits first
	c.waitGone()
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
	c.Abort()
	c.sess.Closed()
}

// Send serves POST /sse/send: the client's frames for the session named
// in the Herald-Session header, one per line. It answers 204 once they are
// handled; the answers come down the stream.
func (s *Server) Send(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r) {
		return
	}
	s.mu.RLock()
	c := s.conns[r.Header.Get(SessionHeader)]
	s.mu.RUnlock()
	if c == nil {
		httpError(w, http.StatusNotFound, "unknown_session", "no open stream has this session: open a new one with GET /sse")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxBodySize)))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		httpError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is over the size limit")
		return
	case err != nil:
		httpError(w, http.StatusBadRequest, "bad_request", "the body could not be read")
		return
	}
	if !c.handle(body) {
		httpError(w, http.StatusRequestEntityTooLarge, "too_large", "a frame is over max_frame_size: the session is closed with 1009")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowed checks the request's Origin and answers CORS for allowed
// browser origins other than the server's own: a page of another origin
// sends the Herald-Session header, which needs a preflight.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request) bool {
	if !s.origins.Check(r) {
		httpError(w, http.StatusForbidden, "forbidden", "this origin may not connect")
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Headers", SessionHeader+", Content-Type")
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Max-Age", "600")
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

// Preflight serves OPTIONS on both paths.
func (s *Server) Preflight(w http.ResponseWriter, r *http.Request) { s.allowed(w, r) }

func newSessionID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func clientIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `","message":"` + msg + `"}` + "\n"))
}

// Mount adds the transport's routes to mux: GET /sse, POST /sse/send and
// their preflights.
func Mount(mux *http.ServeMux, s *Server) {
	mux.HandleFunc("GET /sse", s.Stream)
	mux.HandleFunc("POST /sse/send", s.Send)
	mux.HandleFunc("OPTIONS /sse", s.Preflight)
	mux.HandleFunc("OPTIONS /sse/send", s.Preflight)
}

var _ hub.Conn = (*conn)(nil)
