package protocol

import (
	"encoding/json"
	"strconv"
)

// OpState makes a publication a channel state write: its event is the
// key, its payload the value (null removes the key). State writes are log
// entries like messages, so subscribers get them in order and a resuming
// client replays them; the channel's latest value per key is also kept
// apart from the log, for snapshots.
const OpState = "state"

// MaxStateKeyLen is the longest state key, in bytes; keys use the
// character set of ids.
const MaxStateKeyLen = 128

// StateEntry is one key of a channel's state: its value and the seq of
// the write that set it.
type StateEntry struct {
	Value json.RawMessage `json:"value"`
	Seq   uint64          `json:"seq"`
}

// validateStateSet checks a state_set frame.
func validateStateSet(f *Frame) *Error {
	if f.ID == "" {
		return &Error{Code: CodeBadRequest, Message: "state_set needs an id (the idempotency key)"}
	}
	if err := validateChannel(f.Channel); err != nil {
		return err
	}
	switch {
	case f.Key == "":
		return &Error{Code: CodeBadRequest, Message: "state_set needs a key"}
	case len(f.Key) > MaxStateKeyLen:
		return Errorf(CodeTooLarge, "key longer than %d bytes", MaxStateKeyLen)
	case !validToken(f.Key):
		return &Error{Code: CodeBadRequest, Message: "key must be printable ASCII without quotes or backslashes"}
	case len(f.Value) == 0:
		return &Error{Code: CodeBadRequest, Message: "state_set needs a value (null removes the key)"}
	}
	return nil
}

// AppendState encodes state: the channel's state as of head seq. Keys
// whose value is null (removed) are left out.
func AppendState(dst []byte, channel string, seq uint64, entries map[string]StateEntry) []byte {
	dst = append(dst, `{"type":"state","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"entries":`...)
	dst = appendEntries(dst, entries)
	return append(dst, '}')
}

// AppendSnapshotRequiredState encodes snapshot_required carrying the
// channel's state, for a subscription that asked for it.
func AppendSnapshotRequiredState(dst []byte, id, channel string, seq, oldestSeq uint64, entries map[string]StateEntry) []byte {
	dst = AppendSnapshotRequired(dst, id, channel, seq, oldestSeq)
	dst = dst[:len(dst)-1]
	dst = append(dst, `,"entries":`...)
	dst = appendEntries(dst, entries)
	return append(dst, '}')
}

func appendEntries(dst []byte, entries map[string]StateEntry) []byte {
	dst = append(dst, '{')
	first := true
	for _, k := range sortedKeys(entries) {
		e := entries[k]
		if len(e.Value) == 0 || string(e.Value) == "null" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, k)
		dst = append(dst, `:{"value":`...)
		dst = append(dst, e.Value...)
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, e.Seq, 10)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
