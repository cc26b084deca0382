package heraldclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync/atomic"

	"github.com/heraldrt/herald/protocol"
)

// sessionHeader names the session a POST /sse/send belongs to
// (PROTOCOL.md §19). The id never goes in a URL, where proxies log it.
const sessionHeader = "Herald-Session"

// maxBodyFrames is how many frames of MaxFrameSize one POST may carry:
// the server refuses bodies over 16 × max_frame_size.
const maxBodyFrames = 16

// errSessionGone is a POST answered 404 or 413: the server ended the
// session (with a close event on the stream, which says why).
var errSessionGone = errors.New("heraldclient: the SSE session has ended")

// sseLink is the HTTP fallback transport of PROTOCOL.md §19: the server's
// frames come down one Server-Sent Events stream and the client's go up in
// POST requests, one at a time, from the conn's writer, which is what keeps
// them in order.
type sseLink struct {
	c        *Client
	sendURL  string
	session  string
	body     io.ReadCloser
	r        *bufio.Reader
	cancel   context.CancelFunc // ends the stream
	wake     func()             // wakes the conn's writer
	touch    func()             // records a sign of life
	readSize int64              // the largest event accepted

	// pongDue is set by the reader at a ping event and cleared by the
	// writer, whose next POST (empty if nothing else waits) answers it.
	pongDue atomic.Bool

	// buf and post are the writer's scratch space.
	buf, post []byte
}

// dialSSE opens the stream at streamURL and reads its session event; ctx
// bounds that, life (the conn's context) the whole stream. wake is called
// when the writer owes the server a pong, touch for every event.
func dialSSE(ctx, life context.Context, c *Client, streamURL string, wake, touch func()) (*sseLink, error) {
	sctx, cancel := context.WithCancel(life)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, streamURL, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("heraldclient: sse %s: %w", streamURL, err)
	}
	for k, vs := range c.cfg.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-store")
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	resp, err := c.httpClient.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("heraldclient: sse %s: %w", streamURL, err)
	}
	l := &sseLink{
		c: c, sendURL: streamURL + "/send", body: resp.Body, cancel: cancel,
		wake: wake, touch: touch, readSize: c.cfg.ReadLimit,
		r: bufio.NewReader(resp.Body),
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		l.abort()
		return nil, fmt.Errorf("heraldclient: sse %s: HTTP %d: %s", streamURL, resp.StatusCode, bytes.TrimSpace(msg))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		l.abort()
		return nil, fmt.Errorf("heraldclient: sse %s: not an event stream (Content-Type %q)", streamURL, mt)
	}
	name, data, err := l.event()
	if err == nil && name != "session" {
		err = fmt.Errorf("first event %q, want session", name)
	}
	var s struct {
		Session string `json:"session"`
	}
	if err == nil {
		if err = json.Unmarshal(data, &s); err == nil && s.Session == "" {
			err = errors.New("session event without an id")
		}
	}
	if err != nil || !stop() {
		l.abort()
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return nil, fmt.Errorf("heraldclient: sse %s: %w", streamURL, err)
	}
	l.session = s.Session
	return l, nil
}

// read returns the next server frame. Ping events are answered through
// the writer; a close event ends the stream with its code, and a stream
// that ends without one is 1006, as a WebSocket cut without a close
// frame. The stream lives with the conn's context, so ctx is not needed.
func (l *sseLink) read(context.Context) ([]byte, error) {
	for {
		name, data, err := l.event()
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &CloseError{Code: protocol.CloseAbnormal, Reason: "the event stream ended without a close event"}
		case err != nil:
			return nil, fmt.Errorf("heraldclient: connection lost: %w", err)
		}
		l.touch()
		switch name {
		case "", "message":
			return data, nil
		case "ping":
			l.pongDue.Store(true)
			l.wake()
		case "close":
			var ce CloseError
			var wire struct {
				Code   int    `json:"code"`
				Reason string `json:"reason"`
			}
			if json.Unmarshal(data, &wire) != nil || wire.Code == 0 {
				wire.Code = protocol.CloseAbnormal
			}
			ce.Code, ce.Reason = wire.Code, wire.Reason
			return nil, &ce
		default:
			// Events this client does not know are the transport's own
			// and may be added; skip them.
		}
	}
}

// event reads one SSE event: its name and its data lines joined with LF.
// Comments and fields other than event and data are skipped.
func (l *sseLink) event() (name string, data []byte, err error) {
	var have bool // a field was read since the last dispatch
	var lines int
	for {
		line, err := l.line()
		if err != nil {
			return "", nil, err
		}
		if len(line) == 0 {
			if have {
				return name, data, nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			name, have = string(value), true
		case "data":
			if lines > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
			lines++
			have = true
			if int64(len(data)) > l.readSize {
				return "", nil, fmt.Errorf("an event over the read limit of %d bytes", l.readSize)
			}
		}
	}
}

// line reads one line without its line ending (LF or CRLF), bounded by
// the read limit.
func (l *sseLink) line() ([]byte, error) {
	var long []byte
	for {
		b, err := l.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long, b...)
			if int64(len(long)) > l.readSize {
				return nil, fmt.Errorf("a line over the read limit of %d bytes", l.readSize)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if long != nil {
			b = append(long, b...)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		return bytes.TrimSuffix(b, []byte("\r")), nil
	}
}

// write posts frames as newline-delimited batches, the same batches a
// WebSocket message would carry, at most maxBodyFrames of them per request
// and one request at a time. A due pong goes with them, or alone as an
// empty POST: any POST is a sign of life to the server.
func (l *sseLink) write(ctx context.Context, frames [][]byte) error {
	pong := l.pongDue.Swap(false)
	if len(frames) == 0 && !pong {
		return nil
	}
	max := l.c.cfg.MaxFrameSize
	limit := maxBodyFrames * max
	body := l.post[:0]
	var err error
	l.buf, err = batches(frames, max, protocol.MaxBatch, l.buf, func(msg []byte) error {
		if len(body) > 0 && len(body)+len(msg)+1 > limit {
			if err := l.send(ctx, body); err != nil {
				return err
			}
			body = body[:0]
		}
		body = append(body, msg...)
		body = append(body, '\n')
		return nil
	})
	if err == nil && (len(body) > 0 || len(frames) == 0) {
		err = l.send(ctx, body)
	}
	l.post = body[:0]
	return err
}

// send makes one POST /sse/send, bounded by WriteTimeout. The answers to
// its frames come down the stream; the response only says whether they
// were taken.
func (l *sseLink) send(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, l.c.cfg.WriteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.sendURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vs := range l.c.cfg.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set(sessionHeader, l.session)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := l.c.httpClient.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%w (HTTP %d)", errSessionGone, resp.StatusCode)
	}
	return fmt.Errorf("POST %s: HTTP %d: %s", l.sendURL, resp.StatusCode, bytes.TrimSpace(msg))
}

// close ends the stream: the server sees a client that went away, which
// is how PROTOCOL.md §19 ends a session.
func (l *sseLink) close() { l.abort() }

func (l *sseLink) abort() {
	l.cancel()
	_ = l.body.Close()
}

var _ link = (*sseLink)(nil)
