package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
)

// Frame types sent by clients.
const (
	TypeAuth        = "auth"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypePublish     = "publish"
	TypePing        = "ping"
	TypeHistory     = "history"
)

// Frame types sent by the server.
const (
	TypeAuthOK           = "auth_ok"
	TypeSubscribed       = "subscribed"
	TypeUnsubscribed     = "unsubscribed"
	TypeAck              = "ack"
	TypeMessage          = "message"
	TypePong             = "pong"
	TypeSnapshotRequired = "snapshot_required"
	TypeTokenExpiring    = "token_expiring"
	TypeError            = "error"
	TypeHistoryPage      = "history_page"
)

// ClientTypes and ServerTypes list the frame types of each direction, for
// documentation checks.
var (
	ClientTypes = []string{TypeAuth, TypeSubscribe, TypeUnsubscribe, TypePublish, TypePing, TypeHistory}
	ServerTypes = []string{
		TypeAuthOK, TypeSubscribed, TypeUnsubscribed, TypeAck, TypeMessage,
		TypePong, TypeSnapshotRequired, TypeTokenExpiring, TypeError, TypeHistoryPage,
	}
)

// Limits of single fields. Payload size is bounded by the frame size limit,
// which the server configures.
const (
	MaxIDLen    = 128
	MaxEventLen = 128
	MaxTokenLen = 16 << 10
	// MaxBatch is the most frames one batch may hold.
	MaxBatch = 100
	// DefaultHistoryLimit is the page size of a history frame without a
	// limit. The server bounds limit by its own setting
	// (max_history_limit), which is why that bound is not a constant here.
	DefaultHistoryLimit = 100
)

// Frame is the union of every frame's fields, in both directions. Type
// says which fields matter; docs/PROTOCOL.md lists them per type.
type Frame struct {
	Type string `json:"type"`
	// ID correlates a client frame with its reply; in a message frame it is
	// the publisher's id.
	ID string `json:"id,omitempty"`
	// Ref, in an error frame, is the id of the client frame it answers.
	// (In publish and message frames "ref" is an integer: RefSeq.)
	Ref   string `json:"-"`
	Token string `json:"token,omitempty"`

	Channel string `json:"channel,omitempty"`
	// LastSeq, in subscribe, is the last seq the client has seen; nil
	// subscribes from now on.
	LastSeq   *uint64         `json:"lastSeq,omitempty"`
	Seq       uint64          `json:"seq,omitempty"`
	OldestSeq uint64          `json:"oldestSeq,omitempty"`
	Recovered bool            `json:"recovered,omitempty"`
	Event     string          `json:"event,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Timestamp int64           `json:"timestamp,omitempty"`
	From      string          `json:"from,omitempty"`

	// Op, in publish and message, makes the publication an op entry that
	// changes the message at seq RefSeq (OpEdit, OpDelete, OpReact,
	// OpUnreact). On the wire RefSeq is "ref", an integer.
	Op     string `json:"op,omitempty"`
	RefSeq uint64 `json:"-"`
	// EditedAt, Deleted and Reactions, in history pages and replayed
	// messages, describe what op entries did to a message: the time of
	// its latest edit, whether it was deleted (then its payload is null),
	// and its reactions by key.
	EditedAt  int64               `json:"editedAt,omitempty"`
	Deleted   bool                `json:"deleted,omitempty"`
	Reactions map[string]Reaction `json:"reactions,omitempty"`

	// After and Before, in history, bound the page: the messages after
	// After, oldest first, or the newest ones before Before. Neither asks
	// for the newest messages. Limit caps the page; nil means
	// DefaultHistoryLimit.
	After  *uint64 `json:"after,omitempty"`
	Before *uint64 `json:"before,omitempty"`
	Limit  *int    `json:"limit,omitempty"`
	// Messages, in history_page, are the page's messages, oldest first:
	// each has the fields of a message frame but type and channel.
	Messages []Frame `json:"messages,omitempty"`

	ConnectionID string `json:"connectionId,omitempty"`
	UserID       string `json:"userId,omitempty"`
	ExpiresAt    int64  `json:"expiresAt,omitempty"`

	Code    Code   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// frameJSON is Frame without its methods, for encoding/json.
type frameJSON Frame

// UnmarshalJSON decodes a frame. The field "ref" has two types: a string
// in error frames (Ref), an integer in publish and message frames
// (RefSeq).
func (f *Frame) UnmarshalJSON(data []byte) error {
	aux := struct {
		*frameJSON
		Ref json.RawMessage `json:"ref"`
	}{frameJSON: (*frameJSON)(f)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	ref := bytes.TrimSpace(aux.Ref)
	switch {
	case len(ref) == 0 || string(ref) == "null":
	case ref[0] == '"':
		return json.Unmarshal(ref, &f.Ref)
	case json.Unmarshal(ref, &f.RefSeq) != nil:
		return &json.UnmarshalTypeError{Value: "ref " + truncate(string(ref), 16), Type: reflect.TypeFor[uint64](), Field: "ref"}
	}
	return nil
}

// MarshalJSON encodes a frame as UnmarshalJSON reads it: "ref" is Ref
// when set, else RefSeq when not zero.
func (f Frame) MarshalJSON() ([]byte, error) {
	aux := struct {
		frameJSON
		Ref any `json:"ref,omitempty"`
	}{frameJSON: frameJSON(f)}
	switch {
	case f.Ref != "":
		aux.Ref = f.Ref
	case f.RefSeq != 0:
		aux.Ref = f.RefSeq
	}
	return json.Marshal(aux)
}

// ErrMalformed is returned by Decode for input that is not a JSON object
// or a non-empty array of them.
var ErrMalformed = errors.New("protocol: malformed frame")

// Decode parses one text frame: a JSON object, or a JSON array of objects
// (a batch). It appends the frames to dst and returns it. An error is an
// *Error with code bad_request or too_large, and dst is returned as given.
func Decode(dst []Frame, data []byte) ([]Frame, error) {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 {
		return dst, &Error{Code: CodeBadRequest, Message: "empty frame"}
	}
	switch data[0] {
	case '{':
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			return dst, malformed(err)
		}
		return append(dst, f), nil
	case '[':
		var batch []Frame
		if err := json.Unmarshal(data, &batch); err != nil {
			return dst, malformed(err)
		}
		if len(batch) == 0 {
			return dst, &Error{Code: CodeBadRequest, Message: "empty batch"}
		}
		if len(batch) > MaxBatch {
			return dst, Errorf(CodeTooLarge, "batch of %d frames, at most %d allowed", len(batch), MaxBatch)
		}
		return append(dst, batch...), nil
	default:
		return dst, &Error{Code: CodeBadRequest, Message: "frame is not a JSON object or array"}
	}
}

func malformed(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return Errorf(CodeBadRequest, "field %q has the wrong type", typeErr.Field)
	}
	return &Error{Code: CodeBadRequest, Message: "malformed JSON"}
}

// ValidateClient checks a frame a client sent: its type is a client type
// and the fields that type requires are present and within limits.
func (f *Frame) ValidateClient() *Error {
	if len(f.ID) > MaxIDLen {
		return Errorf(CodeTooLarge, "id longer than %d bytes", MaxIDLen)
	}
	if f.ID != "" && !validToken(f.ID) {
		return &Error{Code: CodeBadRequest, Message: "id must be printable ASCII without quotes or backslashes"}
	}
	switch f.Type {
	case TypeAuth:
		if f.Token == "" {
			return &Error{Code: CodeBadRequest, Message: "auth needs a token"}
		}
		if len(f.Token) > MaxTokenLen {
			return Errorf(CodeTooLarge, "token longer than %d bytes", MaxTokenLen)
		}
	case TypeSubscribe, TypeUnsubscribe:
		return validateChannel(f.Channel)
	case TypePublish:
		if f.ID == "" {
			return &Error{Code: CodeBadRequest, Message: "publish needs an id (the idempotency key)"}
		}
		if err := validateChannel(f.Channel); err != nil {
			return err
		}
		if len(f.Event) > MaxEventLen {
			return Errorf(CodeTooLarge, "event longer than %d bytes", MaxEventLen)
		}
		if f.Event != "" && !validToken(f.Event) {
			return &Error{Code: CodeBadRequest, Message: "event must be printable ASCII without quotes or backslashes"}
		}
		if perr := validateOp(f); perr != nil {
			return perr
		}
		if len(f.Payload) == 0 && f.Op != OpDelete {
			return &Error{Code: CodeBadRequest, Message: "publish needs a payload"}
		}
	case TypeHistory:
		return validateHistory(f)
	case TypePing:
	case "":
		return &Error{Code: CodeBadRequest, Message: "frame has no type"}
	default:
		return Errorf(CodeBadRequest, "unknown frame type %q", truncate(f.Type, 32))
	}
	return nil
}

// validateHistory checks a history frame. The upper bound of limit is the
// server's setting, so the hub checks it.
func validateHistory(f *Frame) *Error {
	if f.ID == "" {
		return &Error{Code: CodeBadRequest, Message: "history needs an id (its reply carries it back)"}
	}
	if err := validateChannel(f.Channel); err != nil {
		return err
	}
	if f.After != nil && f.Before != nil {
		return &Error{Code: CodeBadRequest, Message: "give after or before, not both"}
	}
	if f.Before != nil && *f.Before == 0 {
		return &Error{Code: CodeBadRequest, Message: "before must be 1 or more (nothing precedes seq 1)"}
	}
	if f.Limit != nil && *f.Limit < 1 {
		return &Error{Code: CodeBadRequest, Message: "limit must be 1 or more"}
	}
	return nil
}

func validateChannel(ch string) *Error {
	if ch == "" {
		return &Error{Code: CodeBadRequest, Message: "channel is required"}
	}
	if len(ch) > MaxChannelLen {
		return Errorf(CodeTooLarge, "channel longer than %d bytes", MaxChannelLen)
	}
	if !ValidChannel(ch) {
		return &Error{Code: CodeBadRequest, Message: "invalid channel name"}
	}
	return nil
}

// ValidID reports whether id is a valid frame id: at most MaxIDLen bytes
// of printable ASCII without quotes or backslashes. Replies echo only valid
// ids.
func ValidID(id string) bool { return len(id) <= MaxIDLen && validToken(id) }

// validToken reports whether s is printable ASCII without quotes or
// backslashes, so that it needs no escaping in JSON.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
