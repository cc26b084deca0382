package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/heraldrt/herald/protocol"
)

// Error is what every error response carries: a stable code from the
// protocol's list (docs/PROTOCOL.md, section 9), which a backend branches
// on, and a message for people, which may change between releases.
type Error struct {
	Code    protocol.Code `json:"code"`
	Message string        `json:"message"`

	// status, when set, overrides the status the code maps to; only 405
	// needs it, since no protocol code means "wrong method".
	status int
}

// errorf returns an *Error with the code and a formatted message.
func errorf(code protocol.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Status returns the HTTP status of the error.
func (e *Error) Status() int {
	if e.status != 0 {
		return e.status
	}
	return statusOf(e.Code)
}

// statusOf maps a protocol error code to its HTTP status. A code this
// version does not know (one added later) is a server fault as far as it
// can tell.
func statusOf(code protocol.Code) int {
	switch code {
	case protocol.CodeBadRequest:
		return http.StatusBadRequest
	case protocol.CodeUnauthorized:
		return http.StatusUnauthorized
	case protocol.CodeForbidden:
		return http.StatusForbidden
	case protocol.CodeNotFound:
		return http.StatusNotFound
	case protocol.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case protocol.CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// errInternal is the only thing a client learns about a failure of the
// server: the details (a store path, a broker address) are for the log.
var errInternal = &Error{Code: protocol.CodeInternal, Message: "internal error; the request may be retried"}

// toError turns any error a handler returns into what the client is
// shown, and reports whether it is a server fault to be logged. Input
// errors of the hub are *protocol.Error values and keep their code;
// anything else is internal.
func toError(err error) (e *Error, fault bool) {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr, false
	}
	var perr *protocol.Error
	if errors.As(err, &perr) {
		if statusOf(perr.Code) == http.StatusInternalServerError {
			return errInternal, true
		}
		return &Error{Code: perr.Code, Message: perr.Message}, false
	}
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return errorf(protocol.CodeTooLarge, "request body over %d bytes", maxErr.Limit), false
	}
	return errInternal, true
}

// writeError answers r with err. Server faults are logged with the
// request, unless the client went away first: then the error is the
// cancellation, not a fault, and nobody reads the answer.
func (a *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, fault := toError(err)
	if fault {
		if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
			a.log.Debug("api: client went away", "method", r.Method, "path", r.URL.Path, "err", err)
		} else {
			a.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	if e.Code == protocol.CodeUnauthorized {
		// RFC 6750, section 3: a 401 names the scheme, and says whether
		// credentials were sent and refused.
		challenge := `Bearer realm="herald"`
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "" {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	if e.Code == protocol.CodeRateLimited {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status(), e)
}

var _ error = (*Error)(nil)
