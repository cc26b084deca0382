package hub

// Conn is the transport side of a session: what the hub needs to write to
// one client connection.
type Conn interface {
	// Write writes frames in order. It must not block: what the network
	// does not take at once, the transport keeps and sends later. It
	// returns how many bytes the transport holds that the client has not
	// taken yet, which the hub bounds (slow consumers). It is called with
	// the session's lock held, never concurrently for one Conn.
	Write(frames []*Frame) (pending int, err error)
	// Pending returns the bytes held and not yet taken by the client. It
	// may be called from any goroutine.
	Pending() int
	// Ping sends a transport-level heartbeat that the client answers
	// without application code (a WebSocket ping). Called with the
	// session's lock held.
	Ping() error
	// Close sends a close with the code and reason after what is queued,
	// and cuts the connection if the close does not complete within
	// grace. The transport then reports the end with Session.Closed.
	Close(code int, reason string)
	// Abort cuts the connection at once, without a close handshake, for a
	// peer that is gone.
	Abort()
	// RemoteAddr returns the client's network address, for hooks and logs.
	RemoteAddr() string
}
