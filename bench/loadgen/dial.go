package loadgen

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// websocketGUID is the RFC 6455 key suffix.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// ErrBadHandshake is returned when the server does not upgrade.
var ErrBadHandshake = errors.New("loadgen: bad websocket handshake")

// newOptions returns the options every client connection shares. nbio
// keeps the handlers in the options, not in the connection, so they are
// set once here and find their Client through the connection's session.
func (e *Engine) newOptions() *websocket.Options {
	o := websocket.NewOptions()
	o.Engine = e.nb
	// No read deadline per message: it would arm a timer per frame. The
	// scenarios watch for silence themselves.
	o.KeepaliveTime = 0
	o.OnMessagePtr(func(ws *websocket.Conn, mt websocket.MessageType, p *[]byte) {
		if c, ok := ws.Session().(*Client); ok && p != nil && mt == websocket.TextMessage {
			c.onFrame(*p)
		}
		// Client connections never release payloads themselves.
		if p != nil {
			e.nb.BodyAllocator.Free(p)
		}
	})
	o.SetPingHandler(func(ws *websocket.Conn, data string) {
		e.stats.pings.Add(1)
		_ = ws.WriteMessage(websocket.PongMessage, []byte(data))
	})
	o.SetCloseHandler(func(ws *websocket.Conn, code int, text string) {
		if c, ok := ws.Session().(*Client); ok {
			c.closeCode.CompareAndSwap(0, int32(code))
		}
		// Echo the close, as RFC 6455 asks; nbio then closes the socket.
		payload := []byte{byte(code >> 8), byte(code)}
		if code == 1005 {
			payload = nil
		}
		_ = ws.WriteMessage(websocket.CloseMessage, payload)
	})
	o.OnClose(func(ws *websocket.Conn, err error) {
		if c, ok := ws.Session().(*Client); ok {
			c.ended(err)
		}
	})
	return o
}

// dial starts the connection of c: a TCP connect from the next source
// address (on the calling goroutine), then the upgrade, answered on the
// event loop. The outcome reaches c through c.connected or c.fail.
func (e *Engine) dial(c *Client) {
	if !e.track(c) {
		c.dialFailed(ErrEngineClosed)
		return
	}
	key, err := challengeKey()
	if err != nil {
		c.dialFailed(err)
		return
	}
	u := *e.url
	if c.spec.URL != "" {
		pu, err := parseURL(c.spec.URL)
		if err != nil {
			c.dialFailed(err)
			return
		}
		u = *pu
	}
	local := e.nextSource()
	u.Scheme = "http"
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       u.Host,
		Header: http.Header{
			"Upgrade":               {"websocket"},
			"Connection":            {"Upgrade"},
			"Sec-Websocket-Key":     {key},
			"Sec-Websocket-Version": {"13"},
		},
	}
	cc := &nbhttp.ClientConn{
		Engine:  e.nb,
		Timeout: e.cfg.DialTimeout,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: e.cfg.DialTimeout}
			if local != nil {
				d.LocalAddr = local
			}
			conn, err := d.Dial(network, addr)
			if err != nil {
				return nil, fmt.Errorf("dial %s from %v: %w", addr, local, err)
			}
			return conn, nil
		},
	}
	cc.Do(req, func(res *http.Response, conn net.Conn, err error) {
		if err != nil {
			c.dialFailed(fmt.Errorf("websocket upgrade: %w", err))
			return
		}
		ws, err := e.upgraded(res, conn, key)
		if err != nil {
			// Not cc.CloseWithError: nbio calls this with cc's lock held.
			_ = conn.Close()
			c.dialFailed(err)
			return
		}
		c.connected(ws)
	})
}

// upgraded checks the server's answer to the upgrade and turns the
// connection into a WebSocket client connection on the event loop. It
// runs on the event loop, before any later byte of the connection is
// parsed.
func (e *Engine) upgraded(res *http.Response, conn net.Conn, key string) (*websocket.Conn, error) {
	if res.StatusCode != http.StatusSwitchingProtocols ||
		!headerHas(res.Header, "Upgrade", "websocket") ||
		!headerHas(res.Header, "Connection", "upgrade") ||
		res.Header.Get("Sec-Websocket-Accept") != acceptKey(key) {
		return nil, fmt.Errorf("%w: status %s", ErrBadHandshake, res.Status)
	}
	nbc, ok := conn.(*nbio.Conn)
	if !ok {
		return nil, fmt.Errorf("%w: connection is a %T, not on the event loop", ErrBadHandshake, conn)
	}
	parser, ok := nbc.Session().(*nbhttp.Parser)
	if !ok {
		return nil, fmt.Errorf("%w: no HTTP parser on the connection", ErrBadHandshake)
	}
	ws := websocket.NewClientConn(e.opts, conn, "", false, false)
	ws.Engine = parser.Engine
	// Handle frames right on the event loop: the handlers are short, and
	// handing each frame to a worker pool would cost more than the work.
	ws.Execute = runInline
	parser.ParserCloser = ws
	nbc.SetSession(ws)
	return ws, nil
}

func runInline(f func()) bool { f(); return true }

func challengeKey() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("websocket key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// headerHas reports whether a comma-separated header holds token,
// ignoring case.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
