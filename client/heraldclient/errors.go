package heraldclient

import (
	"errors"
	"fmt"

	"github.com/heraldrt/herald/protocol"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrClosed is returned by calls on a client that was closed, and is the
	// error of subscriptions and publishes that were pending when it closed.
	ErrClosed = errors.New("heraldclient: client closed")
	// ErrAlreadySubscribed is returned by Subscribe for a channel the client
	// is already subscribed to; use the existing Subscription.
	ErrAlreadySubscribed = errors.New("heraldclient: already subscribed to this channel")
	// ErrNotSubscribed is returned by Unsubscribe for a channel the client is
	// not subscribed to.
	ErrNotSubscribed = errors.New("heraldclient: not subscribed to this channel")
	// ErrUnsubscribed is what a Subscribe call returns when the subscription
	// was removed with Unsubscribe before the server confirmed it.
	ErrUnsubscribed = errors.New("heraldclient: unsubscribed before the server confirmed the subscription")
	// ErrTooLarge is returned by Publish when the encoded frame is larger than
	// Config.MaxFrameSize: the server would close the connection for it, and
	// the outbox would resend it forever.
	ErrTooLarge = errors.New("heraldclient: frame larger than MaxFrameSize")
	// ErrHeartbeatTimeout is the cause of a disconnect when nothing arrived
	// from the server within PongTimeout after a ping.
	ErrHeartbeatTimeout = errors.New("heraldclient: server silent after ping (heartbeat timeout)")
	// ErrNotConnected is returned by calls that make sense on a live
	// connection only, such as SendTyping between connections.
	ErrNotConnected = errors.New("heraldclient: not connected")
)

// Error is an error frame from the server, returned by the call whose frame
// it answers (matched by the frame's id). Code is one of the protocol's
// stable codes; a code this package does not know is reported as
// protocol.CodeInternal, as PROTOCOL.md §1 asks, with the original code kept
// in Message.
type Error struct {
	Code    protocol.Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "heraldclient: server error " + string(e.Code)
	}
	return "heraldclient: server error " + string(e.Code) + ": " + e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &Error{Code: protocol.CodeForbidden}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// CloseError is the cause of a disconnect when the server closed the
// WebSocket with a close code (see PROTOCOL.md §10). A client that stops
// because of a close code (1000, 1008, 4003) reports it from Err.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("heraldclient: server closed the connection with %d %q", e.Code, e.Reason)
}

// errorFromFrame converts an error frame, mapping unknown codes to internal.
func errorFromFrame(code protocol.Code, msg string) *Error {
	for _, c := range protocol.Codes {
		if c == code {
			return &Error{Code: code, Message: msg}
		}
	}
	return &Error{Code: protocol.CodeInternal, Message: fmt.Sprintf("(code %q) %s", code, msg)}
}

// transient reports whether a request answered with code may be retried
// unchanged after a pause (PROTOCOL.md §9).
func transient(code protocol.Code) bool {
	return code == protocol.CodeInternal || code == protocol.CodeRateLimited
}

// fatalError marks an error that ends a Connect call at once instead of
// being retried: the token provider failed or the server rejected the token.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

var (
	_ error = (*Error)(nil)
	_ error = (*CloseError)(nil)
)
