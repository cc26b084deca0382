package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Frame types sent by clients.
const (
	TypeAuth        = "auth"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypePublish     = "publish"
	TypePing        = "ping"
	TypeHistory     = "history"
	// TypePresence asks for a channel's presence; TypeTyping tells the
	// channel that the user is typing.
	TypePresence = "presence"
	TypeTyping   = "typing"
	// TypeReceipt reports how far the user has received or read a
	// channel.
	TypeReceipt = "receipt"
	// TypeStateSet sets a key of the channel's state.
	TypeStateSet = "state_set"
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
	TypePresenceState    = "presence_state"
	TypePresenceDiff     = "presence_diff"
	TypeTypingNotice     = "typing_notice"
	TypeReceipts         = "receipts"
	TypeUserStatus       = "user_status"
	TypeState            = "state"
)

// ClientTypes and ServerTypes list the frame types of each direction, for
// documentation checks.
var (
	ClientTypes = []string{TypeAuth, TypeSubscribe, TypeUnsubscribe, TypePublish, TypePing, TypeHistory, TypePresence, TypeTyping, TypeReceipt, TypeStateSet}
	ServerTypes = []string{
		TypeAuthOK, TypeSubscribed, TypeUnsubscribed, TypeAck, TypeMessage,
		TypePong, TypeSnapshotRequired, TypeTokenExpiring, TypeError, TypeHistoryPage,
		TypePresenceState, TypePresenceDiff, TypeTypingNotice, TypeReceipts,
		TypeUserStatus, TypeState,
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
	Ref   string `json:"ref,omitempty"`
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
	// changes the message at seq Target (OpEdit, OpDelete, OpReact,
	// OpUnreact), or, in message, a state write (OpState).
	Op     string `json:"op,omitempty"`
	Target uint64 `json:"target,omitempty"`
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

	// Presence, in subscribe, asks for the channel's presence_state and
	// presence_diff frames.
	Presence bool `json:"presence,omitempty"`
	// Count, Members, Joins and Leaves are presence_state's and
	// presence_diff's.
	Count   int              `json:"count,omitempty"`
	Members []PresenceMember `json:"members,omitempty"`
	Joins   []PresenceMember `json:"joins,omitempty"`
	Leaves  []string         `json:"leaves,omitempty"`
	// TTL, in typing_notice, is how many milliseconds the
	// notice lasts unless repeated.
	TTL int64 `json:"ttl,omitempty"`

	// Receipts, in subscribe, asks for the channel's receipt positions
	// and the user's unread count.
	Receipts bool `json:"receipts,omitempty"`
	// Status, in receipt, is ReceiptDelivered or ReceiptRead.
	Status string `json:"status,omitempty"`
	// ReadSeq and Unread, in subscribed with receipts, are the user's
	// read position and the messages after it.
	ReadSeq uint64 `json:"readSeq,omitempty"`
	Unread  uint64 `json:"unread,omitempty"`
	// Delivered and Read, in receipts, map user ids to positions.
	Delivered map[string]uint64 `json:"delivered,omitempty"`
	Read      map[string]uint64 `json:"read,omitempty"`

	// Key and Value are state_set's; State, in subscribe, asks for the
	// channel's state; Entries are the state in state and
	// snapshot_required.
	Key     string                `json:"key,omitempty"`
	Value   json.RawMessage       `json:"value,omitempty"`
	State   bool                  `json:"state,omitempty"`
	Entries map[string]StateEntry `json:"entries,omitempty"`

	// Online, Devices and LastSeen are user_status's (with UserID).
	Online   bool  `json:"online,omitempty"`
	Devices  int   `json:"devices,omitempty"`
	LastSeen int64 `json:"lastSeen,omitempty"`
}

// UserStatus is whether a user is online, on how many devices
// (authenticated connections), and when they were last seen (ms since
// the epoch; 0 while online, or if never seen).
type UserStatus struct {
	UserID   string `json:"u"`
	Online   bool   `json:"o,omitempty"`
	Devices  int    `json:"n,omitempty"`
	LastSeen int64  `json:"t,omitempty"`
}

// Receipt statuses.
const (
	ReceiptDelivered = "delivered"
	ReceiptRead      = "read"
)

// PresenceMember is one user present in a channel.
type PresenceMember struct {
	UserID string `json:"userId"`
	// Connections counts the user's subscribed connections.
	Connections int `json:"connections"`
	// Info is the token's info claim, or absent.
	Info json.RawMessage `json:"info,omitempty"`
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
	case TypeSubscribe, TypeUnsubscribe, TypeTyping:
		return validateChannel(f.Channel)
	case TypeStateSet:
		return validateStateSet(f)
	case TypeReceipt:
		if f.Seq == 0 {
			return &Error{Code: CodeBadRequest, Message: "receipt needs a seq of 1 or more"}
		}
		if f.Status != ReceiptDelivered && f.Status != ReceiptRead {
			return &Error{Code: CodeBadRequest, Message: `receipt status must be "delivered" or "read"`}
		}
		return validateChannel(f.Channel)
	case TypePresence:
		if f.ID == "" {
			return &Error{Code: CodeBadRequest, Message: "presence needs an id"}
		}
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
