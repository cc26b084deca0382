package protocol

import (
	"sort"
	"strconv"
	"unicode/utf8"
)

// The Append functions encode server frames. Each appends one JSON object
// to dst and returns the extended slice. They write the fields in the order
// docs/PROTOCOL.md lists them and leave out optional fields that are empty.

// Message is the content of a message frame.
type Message struct {
	Channel   string
	Seq       uint64
	ID        string
	Event     string
	Payload   []byte // one JSON value
	Timestamp int64
	From      string
	// Op and Ref make the message an op entry that changes the message at
	// seq Ref.
	Op  string
	Ref uint64
	// EditedAt, Deleted and Reactions describe what op entries did to the
	// message, in history pages and replays. A deleted message is sent
	// with a null payload, whatever Payload holds.
	EditedAt  int64
	Deleted   bool
	Reactions []Reaction
}

// AppendMessage encodes a message frame.
func AppendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"type":"message","channel":`...)
	dst = AppendString(dst, m.Channel)
	dst = append(dst, ',')
	dst = appendMessageFields(dst, m)
	return append(dst, '}')
}

// appendMessageFields writes the fields a message has in a message frame
// and in a history page alike, from seq on, without braces.
func appendMessageFields(dst []byte, m *Message) []byte {
	dst = append(dst, `"seq":`...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	if m.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = AppendString(dst, m.ID)
	}
	if m.Event != "" {
		dst = append(dst, `,"event":`...)
		dst = AppendString(dst, m.Event)
	}
	if m.Op != "" {
		dst = append(dst, `,"op":`...)
		dst = AppendString(dst, m.Op)
	}
	if m.Ref != 0 {
		dst = append(dst, `,"target":`...)
		dst = strconv.AppendUint(dst, m.Ref, 10)
	}
	dst = append(dst, `,"payload":`...)
	if len(m.Payload) == 0 || m.Deleted {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.Payload...)
	}
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, m.Timestamp, 10)
	if m.From != "" {
		dst = append(dst, `,"from":`...)
		dst = AppendString(dst, m.From)
	}
	if m.EditedAt != 0 {
		dst = append(dst, `,"editedAt":`...)
		dst = strconv.AppendInt(dst, m.EditedAt, 10)
	}
	if m.Deleted {
		dst = append(dst, `,"deleted":true`...)
	}
	if len(m.Reactions) > 0 {
		dst = append(dst, `,"reactions":{`...)
		for i := range m.Reactions {
			r := &m.Reactions[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, r.Key)
			dst = append(dst, `:{"count":`...)
			dst = strconv.AppendInt(dst, int64(r.Count), 10)
			dst = append(dst, `,"users":[`...)
			for j, u := range r.Users {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = AppendString(dst, u)
			}
			dst = append(dst, "]}"...)
		}
		dst = append(dst, '}')
	}
	return dst
}

// HistoryPage is the content of a history_page frame.
type HistoryPage struct {
	// ID is the id of the history frame it answers.
	ID      string
	Channel string
	// Head and Oldest are the channel's stream position, sent as seq and
	// oldestSeq: the newest seq ever published (0 if none), and the
	// oldest retained (Head+1 if none).
	Head, Oldest uint64
	// Messages are the page, oldest first. Their Channel is not written:
	// the page names it once.
	Messages []Message
}

// AppendHistoryPage encodes a history_page frame. Each message is written
// with the fields of a message frame but type and channel.
func AppendHistoryPage(dst []byte, p *HistoryPage) []byte {
	dst = append(dst, `{"type":"history_page"`...)
	dst = appendID(dst, p.ID)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, p.Channel)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, p.Head, 10)
	dst = append(dst, `,"oldestSeq":`...)
	dst = strconv.AppendUint(dst, p.Oldest, 10)
	dst = append(dst, `,"messages":[`...)
	for i := range p.Messages {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = appendMessageFields(dst, &p.Messages[i])
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// AppendAck encodes the ack of a publish.
func AppendAck(dst []byte, id, channel string, seq uint64, timestamp int64) []byte {
	dst = append(dst, `{"type":"ack","id":`...)
	dst = AppendString(dst, id)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, timestamp, 10)
	return append(dst, '}')
}

// AppendAuthOK encodes auth_ok. expiresAt is in ms since the epoch.
func AppendAuthOK(dst []byte, id, connectionID, userID string, expiresAt int64) []byte {
	dst = append(dst, `{"type":"auth_ok"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"connectionId":`...)
	dst = AppendString(dst, connectionID)
	dst = append(dst, `,"userId":`...)
	dst = AppendString(dst, userID)
	dst = append(dst, `,"expiresAt":`...)
	dst = strconv.AppendInt(dst, expiresAt, 10)
	return append(dst, '}')
}

// AppendSubscribed encodes subscribed. seq is the channel's head.
func AppendSubscribed(dst []byte, id, channel string, seq uint64, recovered bool) []byte {
	return AppendSubscribedUnread(dst, id, channel, seq, recovered, nil)
}

// Unread is the user's read position in a channel, told in subscribed
// to a subscription with receipts.
type Unread struct {
	ReadSeq uint64
	Unread  uint64
}

// AppendSubscribedUnread encodes subscribed with the user's read
// position and unread count, when u is not nil.
func AppendSubscribedUnread(dst []byte, id, channel string, seq uint64, recovered bool, u *Unread) []byte {
	dst = append(dst, `{"type":"subscribed"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"recovered":`...)
	dst = strconv.AppendBool(dst, recovered)
	if u != nil {
		dst = append(dst, `,"readSeq":`...)
		dst = strconv.AppendUint(dst, u.ReadSeq, 10)
		dst = append(dst, `,"unread":`...)
		dst = strconv.AppendUint(dst, u.Unread, 10)
	}
	return append(dst, '}')
}

// AppendReceipts encodes receipts: users' delivered and read positions
// in channel (either map may be empty).
func AppendReceipts(dst []byte, channel string, delivered, read map[string]uint64) []byte {
	dst = append(dst, `{"type":"receipts","channel":`...)
	dst = AppendString(dst, channel)
	if len(delivered) > 0 {
		dst = append(dst, `,"delivered":`...)
		dst = appendPositions(dst, delivered)
	}
	if len(read) > 0 {
		dst = append(dst, `,"read":`...)
		dst = appendPositions(dst, read)
	}
	return append(dst, '}')
}

// appendPositions writes a JSON object of user ids to seqs, in key order
// so that the output is stable.
func appendPositions(dst []byte, m map[string]uint64) []byte {
	dst = append(dst, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, m[k], 10)
	}
	return append(dst, '}')
}

// AppendUnsubscribed encodes unsubscribed.
func AppendUnsubscribed(dst []byte, id, channel string) []byte {
	dst = append(dst, `{"type":"unsubscribed"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, channel)
	return append(dst, '}')
}

// AppendPong encodes pong. timestamp is server time in ms.
func AppendPong(dst []byte, id string, timestamp int64) []byte {
	dst = append(dst, `{"type":"pong"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, timestamp, 10)
	return append(dst, '}')
}

// AppendSnapshotRequired encodes snapshot_required: the client's lastSeq
// is older than oldestSeq-1, so messages it missed are gone. seq is the
// channel's head.
func AppendSnapshotRequired(dst []byte, id, channel string, seq, oldestSeq uint64) []byte {
	dst = append(dst, `{"type":"snapshot_required"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"oldestSeq":`...)
	dst = strconv.AppendUint(dst, oldestSeq, 10)
	return append(dst, '}')
}

// AppendTokenExpiring encodes token_expiring. expiresAt is in ms.
func AppendTokenExpiring(dst []byte, expiresAt int64) []byte {
	dst = append(dst, `{"type":"token_expiring","expiresAt":`...)
	dst = strconv.AppendInt(dst, expiresAt, 10)
	return append(dst, '}')
}

// AppendError encodes an error frame. ref is the id of the frame it
// answers, channel the channel that frame named; both may be empty.
func AppendError(dst []byte, e *Error, ref, channel string) []byte {
	dst = append(dst, `{"type":"error","code":`...)
	dst = AppendString(dst, string(e.Code))
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, e.Message)
	if ref != "" {
		dst = append(dst, `,"ref":`...)
		dst = AppendString(dst, ref)
	}
	if channel != "" {
		dst = append(dst, `,"channel":`...)
		dst = AppendString(dst, channel)
	}
	return append(dst, '}')
}

// AppendPresenceState encodes presence_state: the channel's members, or
// only their count when members is nil (a channel too large to list).
// id is the presence query's, empty after a subscribe.
func AppendPresenceState(dst []byte, id, channel string, count int, members []PresenceMember) []byte {
	dst = append(dst, `{"type":"presence_state"`...)
	dst = appendID(dst, id)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, int64(count), 10)
	if members != nil {
		dst = append(dst, `,"members":`...)
		dst = appendMembers(dst, members)
	}
	return append(dst, '}')
}

// AppendPresenceDiff encodes presence_diff: the users who came and went
// since the last one, or only the count when both are nil.
func AppendPresenceDiff(dst []byte, channel string, count int, joins []PresenceMember, leaves []string) []byte {
	dst = append(dst, `{"type":"presence_diff","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, int64(count), 10)
	if len(joins) > 0 {
		dst = append(dst, `,"joins":`...)
		dst = appendMembers(dst, joins)
	}
	if len(leaves) > 0 {
		dst = append(dst, `,"leaves":[`...)
		for i, u := range leaves {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, u)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendMembers(dst []byte, members []PresenceMember) []byte {
	dst = append(dst, '[')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"userId":`...)
		dst = AppendString(dst, m.UserID)
		dst = append(dst, `,"connections":`...)
		dst = strconv.AppendInt(dst, int64(m.Connections), 10)
		if len(m.Info) > 0 {
			dst = append(dst, `,"info":`...)
			dst = append(dst, m.Info...)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// AppendUserStatus encodes user_status for the status channel channel.
func AppendUserStatus(dst []byte, channel string, st *UserStatus) []byte {
	dst = append(dst, `{"type":"user_status","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"userId":`...)
	dst = AppendString(dst, st.UserID)
	dst = append(dst, `,"online":`...)
	dst = strconv.AppendBool(dst, st.Online)
	dst = append(dst, `,"devices":`...)
	dst = strconv.AppendInt(dst, int64(st.Devices), 10)
	if st.LastSeen > 0 {
		dst = append(dst, `,"lastSeen":`...)
		dst = strconv.AppendInt(dst, st.LastSeen, 10)
	}
	return append(dst, '}')
}

// AppendTypingNotice encodes typing_notice: userID is typing in channel,
// for ttl milliseconds unless repeated.
func AppendTypingNotice(dst []byte, channel, userID string, ttl int64) []byte {
	dst = append(dst, `{"type":"typing_notice","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"userId":`...)
	dst = AppendString(dst, userID)
	dst = append(dst, `,"ttl":`...)
	dst = strconv.AppendInt(dst, ttl, 10)
	return append(dst, '}')
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func appendID(dst []byte, id string) []byte {
	if id == "" {
		return dst
	}
	dst = append(dst, `,"id":`...)
	return AppendString(dst, id)
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD, as encoding/json does; U+2028 and U+2029 are escaped so the
// output is also safe inside JavaScript source.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
