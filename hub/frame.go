package hub

import "sync/atomic"

// Frame is one encoded server frame. Frames of publications are shared by
// every session they are queued on and must not be modified.
type Frame struct {
	// JSON is the frame as the protocol defines it.
	JSON []byte
	// seq is the publication's seq for message frames, 0 otherwise.
	seq uint64
	// wire caches each transport's framing of JSON, so that a shared
	// frame is framed once however many sessions it goes to.
	wire [numWireSlots]atomic.Pointer[[]byte]
}

// Wire slots, one per transport framing.
const (
	WireWebSocket = iota
	WireSSE
	numWireSlots
)

// Wire returns the frame framed for a transport, building it with build on
// first use. Concurrent first uses may both build; either result is kept.
func (f *Frame) Wire(slot int, build func(json []byte) []byte) []byte {
	if p := f.wire[slot].Load(); p != nil {
		return *p
	}
	b := build(f.JSON)
	f.wire[slot].Store(&b)
	return b
}

// Seq returns the seq of a message frame, 0 for other frames.
func (f *Frame) Seq() uint64 { return f.seq }
