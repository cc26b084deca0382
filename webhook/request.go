package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/protocol"
)

// Event names: the "event" field of a Request.
const (
	EventConnect     = "connect"
	EventSubscribe   = "subscribe"
	EventPublish     = "publish"
	EventDisconnect  = "disconnect"
	EventUnsubscribe = "unsubscribe"
)

// Results: the "result" field of a Response.
const (
	ResultAllow = "allow"
	ResultDeny  = "deny"
)

// Request is the JSON body Herald POSTs to the backend. Go backends can
// decode into it (after Verify).
type Request struct {
	// Event is one of the Event* names.
	Event string `json:"event"`
	// ID is unique per delivery and the same on each of its retries, so
	// that a backend can drop a notification it has already handled.
	ID string `json:"id"`
	// Timestamp is when the event happened, in ms since the epoch (a
	// retried notification keeps it; its signature's time is fresh).
	Timestamp int64  `json:"timestamp"`
	Client    Client `json:"client"`
	// Channel is set for subscribe, publish and unsubscribe.
	Channel string `json:"channel,omitempty"`
	// EventName is a publish's app event (the frame's "event"), if any.
	EventName string `json:"eventName,omitempty"`
	// Payload is a publish's payload, as the client sent it.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Code is a disconnect's WebSocket close code: the one the client
	// sent or the server closed with, 1006 when the connection was cut.
	Code int `json:"code,omitempty"`
}

// Client describes the connection an event is about.
type Client struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId"`
	// Info is the token's info claim, absent if none.
	Info       json.RawMessage `json:"info,omitempty"`
	RemoteAddr string          `json:"remoteAddr"`
}

// Response is the JSON answer to a decision (connect, subscribe, publish),
// sent with any 2xx status. Notifications need no body.
type Response struct {
	// Result is ResultAllow or ResultDeny.
	Result string `json:"result"`
	// Code is a deny's protocol error code (default forbidden). A code
	// the protocol does not define is sent to the client as forbidden.
	Code protocol.Code `json:"code,omitempty"`
	// Message is a deny's message, shown to the client.
	Message string `json:"message,omitempty"`
	// Payload, on a publish's allow, replaces the client's payload. Absent
	// keeps it; any JSON value, null included, replaces it.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// encode returns the request's JSON. It leaves <, > and & as they are, so
// that a payload reaches the backend as the client wrote it.
func (r *Request) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// maxDenyMessage bounds the backend's message in a client's error frame.
const maxDenyMessage = 512

// refusal turns a deny into what the client is shown.
func (r *Response) refusal(event string) (*protocol.Error, bool) {
	known := r.Code == ""
	for _, c := range protocol.Codes {
		if r.Code == c {
			known = true
		}
	}
	code := r.Code
	if !known || code == "" {
		code = protocol.CodeForbidden
	}
	msg := r.Message
	if msg == "" {
		msg = "the app backend denied this " + event
	}
	if len(msg) > maxDenyMessage {
		msg = truncate(msg, maxDenyMessage)
	}
	return &protocol.Error{Code: code, Message: msg}, known
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func clientOf(c hub.ClientInfo) Client {
	return Client{ConnectionID: c.ConnectionID, UserID: c.UserID, Info: c.Info, RemoteAddr: c.RemoteAddr}
}

// newDeliveryID returns 128 random bits in hex.
func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
