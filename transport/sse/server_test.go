package sse_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/ssetest"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/protocol"
	"github.com/heraldrt/herald/transport/sse"
	"github.com/heraldrt/herald/transport/ws"
)

func post(t *testing.T, url, session string, body []byte, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/sse/send", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if session != "" {
		req.Header.Set(sse.SessionHeader, session)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSendAnswers checks the HTTP answers of POST /sse/send.
func TestSendAnswers(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{WS: ws.Config{MaxFrameSize: 1024}})
	tests := []struct {
		name      string
		body      func(session string) (string, []byte)
		status    int
		closeCode int // the stream's close event, 0: the stream stays
	}{
		{"auth and ping", func(s string) (string, []byte) {
			return s, []byte(`{"type":"auth","token":"` + testserver.Token(t, "u", "chat.>") + `"}` + "\n" + `{"type":"ping","id":"p"}`)
		}, http.StatusNoContent, 0},
		{"empty body answers a ping event", func(s string) (string, []byte) { return s, nil }, http.StatusNoContent, 0},
		{"unknown session", func(string) (string, []byte) { return "nope", []byte(`{"type":"ping"}`) }, http.StatusNotFound, 0},
		{"no session header", func(string) (string, []byte) { return "", []byte(`{"type":"ping"}`) }, http.StatusNotFound, 0},
		{"frame over max_frame_size", func(s string) (string, []byte) {
			return s, []byte(`{"type":"ping","id":"` + strings.Repeat("x", 2000) + `"}`)
		}, http.StatusRequestEntityTooLarge, protocol.CloseTooBig},
		{"body over 16 frames", func(s string) (string, []byte) {
			return s, bytes.Repeat([]byte(`{"type":"ping"}`+"\n"), 2000)
		}, http.StatusRequestEntityTooLarge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ssetest.Dial(t, srv.HTTP)
			session, body := tt.body(c.Session)
			if resp := post(t, srv.HTTP, session, body, nil); resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.closeCode != 0 {
				_, err := c.Next(5 * time.Second)
				if got := ssetest.CloseCode(err); got != tt.closeCode {
					t.Fatalf("stream ended with %v, want close %d", err, tt.closeCode)
				}
				// The session is gone: a send finds nothing.
				if resp := post(t, srv.HTTP, c.Session, []byte(`{"type":"ping"}`), nil); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("send after the close: %d, want 404", resp.StatusCode)
				}
			}
		})
	}
}

// TestStreamAnswers checks who may open a stream, and CORS for allowed
// origins.
func TestStreamAnswers(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{SSE: sse.Config{AllowedOrigins: []string{"https://app.example.com"}}})
	tests := []struct {
		name   string
		origin string
		status int
		cors   string
	}{
		{"no origin (an app)", "", 200, ""},
		{"allowed origin", "https://app.example.com", 200, "https://app.example.com"},
		{"other origin", "https://evil.example.net", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, err := ssetest.DialErr(srv.HTTP, h)
			if tt.status != 200 {
				var se *ssetest.StatusError
				if !asStatus(err, &se) || se.Code != tt.status {
					t.Fatalf("got %v, want HTTP %d", err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Drop()
			resp := post(t, srv.HTTP, c.Session, nil, h)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("send: %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.cors {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.cors)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		req, _ := http.NewRequest("OPTIONS", srv.HTTP+"/sse/send", nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Headers", "herald-session")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), sse.SessionHeader) {
			t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

func asStatus(err error, target **ssetest.StatusError) bool {
	se, ok := err.(*ssetest.StatusError)
	*target = se
	return ok
}

// TestDrain: a draining node closes streams with 1012 and refuses new
// ones with 503.
func TestDrain(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := ssetest.Dial(t, srv.HTTP)
	c.SendRaw([]byte(`{"type":"auth","token":"` + testserver.Token(t, "u", "chat.>") + `"}`))
	if f, err := c.Next(5 * time.Second); err != nil || f.Type != protocol.TypeAuthOK {
		t.Fatalf("auth: %+v %v", f, err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Hub.Shutdown(ctx, protocol.CloseServiceRestart)
	}()
	_, err := c.Next(5 * time.Second)
	if got := ssetest.CloseCode(err); got != protocol.CloseServiceRestart {
		t.Fatalf("stream ended with %v, want 1012", err)
	}
	if _, err := ssetest.DialErr(srv.HTTP, nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("new stream while draining: %v, want 503", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSlowConsumer: a stream whose client reads nothing is closed with
// 4008 once its queue passes max_queue_bytes, and cut when the close
// cannot be written.
func TestSlowConsumer(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Hub: hub.Config{MaxQueueBytes: 64 << 10, PublishRate: 1e6, PublishBurst: 1e6, MaxFrameRate: 1e6, MaxFrameBurst: 1e6}})
	// The slow client reads the session event and nothing more: its
	// stream's TCP buffers fill.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.HTTP+"/sse", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 200)
	n, _ := resp.Body.Read(head)
	_, session, _ := strings.Cut(string(head[:n]), `"session":"`)
	session, _, _ = strings.Cut(session, `"`)
	if r := post(t, srv.HTTP, session, []byte(`{"type":"auth","token":"`+testserver.Token(t, "slow", "chat.>")+`"}`+"\n"+`{"type":"subscribe","channel":"chat.big"}`), nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("slow client's send: %d", r.StatusCode)
	}
	pub := ssetest.Dial(t, srv.HTTP)
	pub.SendRaw([]byte(`{"type":"auth","token":"` + testserver.Token(t, "pub", "chat.>") + `"}`))
	payload := `{"text":"` + strings.Repeat("x", 8000) + `"}`
	deadline := time.Now().Add(20 * time.Second)
	sent := 0
	for srv.Hub.Stats.SlowConsumers.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow stream was never closed as a slow consumer (%d published, %d stored)", sent, srv.Hub.Stats.MessagesIn.Load())
		}
		var body bytes.Buffer
		for i := 0; i < 16; i++ {
			sent++
			body.WriteString(`{"type":"publish","id":"p` + strconv.Itoa(sent) + `","channel":"chat.big","payload":` + payload + "}\n")
		}
		pub.SendRaw(body.Bytes())
	}
	waitGone := time.Now().Add(10 * time.Second)
	for srv.Hub.Stats.Connections.Load() > 1 {
		if time.Now().After(waitGone) {
			t.Fatalf("%d connections: the slow stream was not cut", srv.Hub.Stats.Connections.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
