package ws

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/nbiowarm"
	"github.com/heraldrt/herald/internal/origin"
	"github.com/heraldrt/herald/internal/ratelimit"
)

// Config configures the transport. The zero value of each field is its
// documented default.
type Config struct {
	// MaxFrameSize is the largest frame a client may send, in bytes; a
	// larger one closes the connection with 1009. Zero means 64 KiB.
	MaxFrameSize int
	// CloseGrace is how long a close may take to reach the client before
	// the connection is cut. Zero means 5s.
	CloseGrace time.Duration
	// AllowedOrigins are the browser origins that may connect: exact
	// ("https://app.example.com"), subdomain wildcards
	// ("https://*.example.com") or "*" for any. Empty allows the server's
	// own host only. Requests without an Origin (apps, servers) are always
	// allowed; they authenticate with a token.
	AllowedOrigins []string
	// ConnRate and ConnBurst bound the upgrades per second from one IP
	// address; past them the upgrade gets 429. Zero means 20/s with a
	// burst of 100; a negative ConnRate turns the limit off (behind a
	// proxy that hides client addresses, say).
	ConnRate  float64
	ConnBurst int
	// Pollers is the number of event-loop goroutines. Zero means one per
	// CPU.
	Pollers int
	// Logger receives the transport's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Server is an http.Handler that upgrades requests to WebSocket sessions
// of a hub.
type Server struct {
	hub    *hub.Hub
	cfg    Config
	log    *slog.Logger
	engine *nbhttp.Engine
	up     *websocket.Upgrader
	// origins checks the Origin of upgrades; perIP limits their rate per
	// client address (nil: no limit).
	origins *origin.Checker
	perIP   *ratelimit.Keyed

	stopOnce sync.Once
}

// New starts the transport's event loop.
func New(h *hub.Hub, cfg Config) (*Server, error) {
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = 64 << 10
	}
	if cfg.CloseGrace <= 0 {
		cfg.CloseGrace = 5 * time.Second
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
	// nbio's logger is process-wide; the first server's logger wins, so
	// that servers started later do not race with running pollers.
	nbioLogOnce.Do(func() { logging.SetLogger(nbioLogger{cfg.Logger}) })
	engine := nbhttp.NewEngine(nbhttp.Config{
		Name:                    "herald-ws",
		NPoller:                 cfg.Pollers,
		ReleaseWebsocketPayload: true,
		// Server frames are written whole by this package; nbio only
		// frames its own control replies.
		MaxWebsocketFramePayloadSize: cfg.MaxFrameSize,
		MessageHandlerPoolSize:       runtime.NumCPU() * 256,
	})
	engine.OnWrittenSize(func(c *nbio.Conn, _ []byte, n int) {
		if cc := connOfNB(c); cc != nil {
			cc.written.Add(int64(n))
		}
	})
	if err := engine.Start(); err != nil {
		return nil, fmt.Errorf("ws: start event loop: %w", err)
	}
	// nbio v1.6.8 cannot stop an engine whose pollers have not all run
	// yet; make sure they have, so that Close never hangs.
	if err := nbiowarm.WarmUp(engine.Engine, engine.NPoller); err != nil {
		engine.Stop()
		return nil, err
	}
	s := &Server{hub: h, cfg: cfg, log: cfg.Logger, engine: engine, origins: origin.New(cfg.AllowedOrigins)}
	if cfg.ConnRate > 0 {
		s.perIP = &ratelimit.Keyed{Rate: cfg.ConnRate, Burst: cfg.ConnBurst}
	}
	s.up = s.newUpgrader()
	return s, nil
}

func (s *Server) newUpgrader() *websocket.Upgrader {
	up := websocket.NewUpgrader()
	up.Engine = s.engine
	up.BlockingModTrasferConnToPoller = true
	up.KeepaliveTime = 0 // the hub's sweeper does heartbeats
	up.MessageLengthLimit = s.cfg.MaxFrameSize
	up.CheckOrigin = func(r *http.Request) bool { return s.origins.Check(r) }
	up.HandshakeTimeout = 10 * time.Second
	up.OnOpen(s.open)
	up.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		cc := waitConn(c)
		if cc == nil {
			return
		}
		if mt == websocket.TextMessage {
			cc.sess.HandleMessage(data)
		} else {
			cc.sess.HandleBinary()
		}
	})
	up.SetPingHandler(func(c *websocket.Conn, data string) {
		if cc := waitConn(c); cc != nil {
			cc.sess.Touch()
			cc.writeRaw(appendFrame(nil, opPong, []byte(data)))
		}
	})
	up.SetPongHandler(func(c *websocket.Conn, _ string) {
		if cc := waitConn(c); cc != nil {
			cc.sess.Touch()
		}
	})
	up.SetCloseHandler(func(c *websocket.Conn, code int, _ string) {
		cc := waitConn(c)
		if cc == nil {
			_ = c.Close()
			return
		}
		cc.closeReceived(code)
	})
	up.OnClose(func(c *websocket.Conn, _ error) {
		if cc := connOf(c); cc != nil {
			cc.ended()
		}
	})
	return up
}

// ServeHTTP upgrades the request. While the hub drains it answers 503 so
// that load balancers send the client elsewhere.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.hub.Accepting() {
		http.Error(w, "draining: reconnect to another node", http.StatusServiceUnavailable)
		return
	}
	if s.perIP != nil {
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		if !s.perIP.Allow(ip, time.Now()) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many connections from this address; retry later", http.StatusTooManyRequests)
			return
		}
	}
	// Upgrade answers failed handshakes with an HTTP error itself.
	if _, err := s.up.Upgrade(w, r, nil); err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
	}
}

func (s *Server) open(c *websocket.Conn) {
	nb, ok := c.Conn.(*nbio.Conn)
	if !ok {
		s.log.Error("websocket connection not on the event loop", "type", fmt.Sprintf("%T", c.Conn))
		_ = c.Close()
		return
	}
	cc := &conn{srv: s, ws: c, nb: nb}
	c.SetSession(cc)
	cc.sess = s.hub.NewSession(cc)
	cc.ready.Store(true)
}

// Close stops the event loop, cutting any connection still open. Drain
// the hub first.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() { err = s.engine.Shutdown(ctx) })
	return err
}

var nbioLogOnce sync.Once

type nbioLogger struct{ log *slog.Logger }

func (l nbioLogger) SetLevel(int) {}
func (l nbioLogger) Debug(format string, v ...any) {
	l.log.Debug("nbio: " + fmt.Sprintf(format, v...))
}
func (l nbioLogger) Info(format string, v ...any) {
	l.log.Debug("nbio: " + fmt.Sprintf(format, v...))
}
func (l nbioLogger) Warn(format string, v ...any) {
	l.log.Warn("nbio: " + fmt.Sprintf(format, v...))
}
func (l nbioLogger) Error(format string, v ...any) {
	l.log.Error("nbio: " + fmt.Sprintf(format, v...))
}

var _ http.Handler = (*Server)(nil)
