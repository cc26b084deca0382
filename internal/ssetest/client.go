// Package ssetest is a raw client of the SSE transport for tests: it
// reads the stream's events and posts frames, and answers the ping events
// it reads as the SDKs do.
package ssetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// CloseError is the end of a stream with a close event.
type CloseError struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (e *CloseError) Error() string { return fmt.Sprintf("closed with %d: %s", e.Code, e.Reason) }

// Event is one SSE event.
type Event struct {
	Name string
	Data []byte
}

// Client is one SSE session.
type Client struct {
	t       testing.TB
	base    string
	Session string
	cancel  context.CancelFunc
	events  chan result
	httpc   *http.Client
}

type result struct {
	ev  Event
	err error
}

// Base returns the http://host:port of a ws://host:port/ws URL.
func Base(wsURL string) string {
	return strings.TrimSuffix(strings.Replace(wsURL, "ws://", "http://", 1), "/ws")
}

// Dial opens a stream at base (http://host:port) and reads its session
// event. The stream is cut when the test ends.
func Dial(t testing.TB, base string) *Client {
	t.Helper()
	c, err := DialErr(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	t.Cleanup(c.Drop)
	return c
}

// DialErr is Dial returning its error; header is added to the request.
func DialErr(base string, header http.Header) (*Client, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/sse", nil)
	if err != nil {
		cancel()
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	httpc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := httpc.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, &StatusError{Code: resp.StatusCode, Body: string(b)}
	}
	c := &Client{base: base, cancel: cancel, events: make(chan result, 1024), httpc: httpc}
	r := bufio.NewReader(resp.Body)
	first, err := readEvent(r)
	if err != nil || first.Name != "session" {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("first event %+v: %v", first, err)
	}
	var s struct{ Session string }
	if err := json.Unmarshal(first.Data, &s); err != nil || s.Session == "" {
		cancel()
		return nil, fmt.Errorf("session event %s: %v", first.Data, err)
	}
	c.Session = s.Session
	go c.read(r, resp.Body)
	return c, nil
}

// StatusError is a stream or send refused with an HTTP status.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

func (c *Client) read(r *bufio.Reader, body io.Closer) {
	defer body.Close()
	for {
		ev, err := readEvent(r)
		if err != nil {
			c.events <- result{err: err}
			return
		}
		switch ev.Name {
		case "close":
			var ce CloseError
			_ = json.Unmarshal(ev.Data, &ce)
			c.events <- result{err: &ce}
			return
		default:
			c.events <- result{ev: ev}
		}
	}
}

// readEvent reads one event, skipping comments.
func readEvent(r *bufio.Reader) (Event, error) {
	var ev Event
	var data [][]byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return ev, err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if data == nil && ev.Name == "" {
				continue // the blank line after a comment
			}
			ev.Data = bytes.Join(data, []byte("\n"))
			return ev, nil
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("event: ")):
			ev.Name = string(line[len("event: "):])
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, append([]byte(nil), line[len("data: "):]...))
		}
	}
}

// Post sends body to the session and returns the HTTP status.
func (c *Client) Post(body []byte) (int, error) {
	req, err := http.NewRequest("POST", c.base+"/sse/send", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Herald-Session", c.Session)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.httpc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// SendRaw posts one frame as given. Refusals (413, 404) are the server's
// answer, which the tests read from the stream; only a failed request
// fails the test.
func (c *Client) SendRaw(b []byte) {
	if _, err := c.Post(b); err != nil && c.t != nil {
		c.t.Logf("post: %v", err)
	}
}

// NextEvent returns the next message event. It answers the ping events
// it reads on the way with an empty send, as the SDKs do: a client that
// stops reading stops answering, like a WebSocket library that answers
// pings inside a pending read.
func (c *Client) NextEvent(timeout time.Duration) (Event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case r := <-c.events:
			if r.err != nil {
				c.events <- r // every later call sees the end too
				return r.ev, r.err
			}
			if r.ev.Name == "ping" {
				go func() { _, _ = c.Post(nil) }() // an empty send is the answer
				continue
			}
			return r.ev, nil
		case <-t.C:
			return Event{}, errors.New("timed out waiting for an event")
		}
	}
}

// Next returns the next server frame, or the error that ended the stream.
func (c *Client) Next(timeout time.Duration) (protocol.Frame, error) {
	ev, err := c.NextEvent(timeout)
	if err != nil {
		return protocol.Frame{}, err
	}
	var f protocol.Frame
	if err := json.Unmarshal(ev.Data, &f); err != nil {
		return protocol.Frame{}, fmt.Errorf("server frame %s: %w", ev.Data, err)
	}
	return f, nil
}

// Drop cuts the stream without a close.
func (c *Client) Drop() { c.cancel() }

// CloseCode returns the code of a close event in err, or -1.
func CloseCode(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
