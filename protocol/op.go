package protocol

import (
	"bytes"
	"encoding/json"
)

// Ops a publish may carry. Each makes the publication an op entry: a
// message of its own, with its own seq, delivered like any other, that
// changes the earlier message at seq ref.
const (
	// OpEdit replaces the message's payload with the op entry's.
	OpEdit = "edit"
	// OpDelete turns the message into a tombstone: no payload, deleted.
	OpDelete = "delete"
	// OpReact adds the publisher's reaction, whose key is the payload (a
	// JSON string), to the message; reacting twice changes nothing.
	OpReact = "react"
	// OpUnreact takes the publisher's reaction with that key away.
	OpUnreact = "unreact"
)

// Ops lists the ops a publish may carry, for documentation checks. A
// message frame may also carry OpState, which state_set writes.
var Ops = []string{OpEdit, OpDelete, OpReact, OpUnreact}

const (
	// MaxReactionLen is the most bytes (of UTF-8) a reaction key has.
	MaxReactionLen = 64
	// ReactionUsers is how many users a reaction summary names: the
	// first ones to react; its count is exact.
	ReactionUsers = 20
)

// Reaction summarizes one reaction key on a message.
type Reaction struct {
	// Key is the reaction, such as "👍". In a frame it is the key of the
	// reactions object, so it is not a field.
	Key string `json:"-"`
	// Count is how many users reacted with the key.
	Count int `json:"count"`
	// Users are the first ReactionUsers of them, in the order they
	// reacted.
	Users []string `json:"users"`
}

// ReactionKey returns the reaction key that a react or unreact payload
// holds: a JSON string of 1 to MaxReactionLen bytes.
func ReactionKey(payload []byte) (string, *Error) {
	payload = bytes.TrimSpace(payload)
	var key string
	if len(payload) == 0 || payload[0] != '"' || json.Unmarshal(payload, &key) != nil {
		return "", &Error{Code: CodeBadRequest, Message: "a reaction's payload is its key, a JSON string such as \"👍\""}
	}
	if key == "" {
		return "", &Error{Code: CodeBadRequest, Message: "a reaction key is not empty"}
	}
	if len(key) > MaxReactionLen {
		return "", Errorf(CodeTooLarge, "reaction key of %d bytes, at most %d", len(key), MaxReactionLen)
	}
	return key, nil
}

// validateOp checks a publish's op and target: both or neither, a known
// op, a target of 1 or more, and for a reaction its key. Whether target
// names a message is for the server to check.
func validateOp(f *Frame) *Error {
	switch f.Op {
	case "":
		if f.Target != 0 {
			return &Error{Code: CodeBadRequest, Message: "target goes with an op (edit, delete, react or unreact)"}
		}
		return nil
	case OpEdit, OpDelete, OpReact, OpUnreact:
	default:
		return Errorf(CodeBadRequest, "unknown op %q; the ops are edit, delete, react and unreact", truncate(f.Op, 32))
	}
	if f.Target == 0 {
		return Errorf(CodeBadRequest, "op %s needs target: the seq of the message it changes, 1 or more", f.Op)
	}
	if f.Op == OpReact || f.Op == OpUnreact {
		if _, perr := ReactionKey(f.Payload); perr != nil {
			return perr
		}
	}
	return nil
}
