package protocol

import "fmt"

// Code is a stable, machine-readable error code carried by an error frame.
// Codes are never renamed; new ones may be added. A client that meets a
// code it does not know treats it as [CodeInternal].
type Code string

// Error codes.
const (
	// CodeBadRequest: the frame is malformed, of an unknown type, or
	// misses a required field. The connection stays usable.
	CodeBadRequest Code = "bad_request"
	// CodeUnauthorized: the frame needs an authenticated connection, or
	// the token was rejected.
	CodeUnauthorized Code = "unauthorized"
	// CodeForbidden: the token does not grant the channel.
	CodeForbidden Code = "forbidden"
	// CodeNotFound: the frame names something that does not exist, such as
	// an unsubscribe from a channel the connection is not subscribed to.
	CodeNotFound Code = "not_found"
	// CodeTooLarge: a field, a payload or a batch is over its limit.
	CodeTooLarge Code = "too_large"
	// CodeRateLimited: the connection sends faster than it may.
	CodeRateLimited Code = "rate_limited"
	// CodeInternal: the server failed; the request may be retried.
	CodeInternal Code = "internal"
)

// Codes lists every error code, for documentation checks.
var Codes = []Code{
	CodeBadRequest, CodeUnauthorized, CodeForbidden, CodeNotFound,
	CodeTooLarge, CodeRateLimited, CodeInternal,
}

// Error is a protocol error: what an error frame carries.
type Error struct {
	Code    Code
	Message string
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// WebSocket close codes the server uses, and what each means to a client.
const (
	// CloseNormal: the connection is done; do not reconnect automatically.
	CloseNormal = 1000
	// CloseGoingAway: the server is draining; reconnect (to another node).
	CloseGoingAway = 1001
	// ClosePolicy: a policy violation not covered by a 4xxx code.
	ClosePolicy = 1008
	// CloseTooBig: a frame was over the size limit.
	CloseTooBig = 1009
	// CloseInternal: the server failed; reconnect with backoff.
	CloseInternal = 1011
	// CloseServiceRestart: the server is restarting; reconnect with backoff.
	CloseServiceRestart = 1012
	// CloseBadRequest: the client broke the protocol in a way that cannot
	// be answered with an error frame.
	CloseBadRequest = 4000
	// CloseAuthFailed: no valid auth frame within the deadline, a rejected
	// token, or a token that expired without a refresh. Reconnect only
	// with a new token.
	CloseAuthFailed = 4001
	// CloseForbidden: the identity may no longer use this connection.
	CloseForbidden = 4003
	// CloseSlowConsumer: the client did not read fast enough and its
	// outbound queue overflowed. Reconnect and resubscribe with lastSeq.
	CloseSlowConsumer = 4008
	// CloseRateLimited: the client sent faster than allowed. Reconnect
	// after a backoff.
	CloseRateLimited = 4029

	// CloseAbnormal is what a peer reports when a connection ended without
	// a close frame. The server never sends it; it appears in reports.
	CloseAbnormal = 1006
)

// CloseCodes lists every close code with its reason text, for the close
// frame and for documentation checks.
var CloseCodes = map[int]string{
	CloseNormal:         "normal closure",
	CloseGoingAway:      "going away",
	ClosePolicy:         "policy violation",
	CloseTooBig:         "frame too big",
	CloseInternal:       "internal error",
	CloseServiceRestart: "service restart",
	CloseBadRequest:     "bad request",
	CloseAuthFailed:     "authentication failed",
	CloseForbidden:      "forbidden",
	CloseSlowConsumer:   "slow consumer",
	CloseRateLimited:    "rate limited",
}
