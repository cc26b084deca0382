package heraldclient

import "fmt"

// State is where a Client is in its life cycle.
//
//	New ──Connect──▶ Connecting ──auth_ok──▶ Connected
//	                     ▲                       │ connection lost
//	                     └──backoff── Disconnected ◀┘
//	any ──Close, or a close code that forbids reconnecting──▶ Closed
type State int32

const (
	// StateDisconnected: not connected. The initial state, the state
	// between connections while the client waits out its backoff, and the
	// state after a Connect that failed.
	StateDisconnected State = iota
	// StateConnecting: a connection attempt is under way (token, WebSocket
	// handshake, auth).
	StateConnecting
	// StateConnected: authenticated; frames flow.
	StateConnected
	// StateClosed: Close was called, or the server closed the connection
	// with a code that forbids reconnecting. Final.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateDisconnected:
		return "disconnected"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

var _ fmt.Stringer = StateConnected
