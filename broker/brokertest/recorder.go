package brokertest

import (
	"runtime"
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

// Recorder is an [herald.EventHandler] and [herald.EphemeralHandler]
// that keeps what it is given.
type Recorder struct {
	mu   sync.Mutex
	cond *sync.Cond
	got  map[string][]*herald.Publication
	// eph holds each channel's ephemeral messages, as given (the handler
	// may keep them: they are the broker's to hand over).
	eph map[string][][]byte
	// ephCalls counts the HandleEphemeral calls in progress per channel,
	// and ephOverlaps the calls that found another one in progress for
	// the same channel, which the contract forbids.
	ephCalls    map[string]int
	ephOverlaps int
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	r := &Recorder{
		got:      make(map[string][]*herald.Publication),
		eph:      make(map[string][][]byte),
		ephCalls: make(map[string]int),
	}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// HandlePublications implements herald.EventHandler.
func (r *Recorder) HandlePublications(channel string, pubs []*herald.Publication) {
	r.mu.Lock()
	r.got[channel] = append(r.got[channel], pubs...)
	r.mu.Unlock()
	r.cond.Broadcast()
}

// Got returns a copy of what the channel received so far.
func (r *Recorder) Got(channel string) []*herald.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*herald.Publication(nil), r.got[channel]...)
}

// Wait waits until the channel received at least n publications or the
// timeout passes, and returns what it received.
func (r *Recorder) Wait(channel string, n int, timeout time.Duration) []*herald.Publication {
	deadline := time.Now().Add(timeout)
	stop := time.AfterFunc(timeout, r.cond.Broadcast)
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.got[channel]) < n && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	return append([]*herald.Publication(nil), r.got[channel]...)
}

// WaitSeq waits until the channel received a publication with seq at
// least seq, or the timeout passes, and returns what it received.
func (r *Recorder) WaitSeq(channel string, seq uint64, timeout time.Duration) []*herald.Publication {
	deadline := time.Now().Add(timeout)
	stop := time.AfterFunc(timeout, r.cond.Broadcast)
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for time.Now().Before(deadline) {
		if got := r.got[channel]; len(got) > 0 && got[len(got)-1].Seq >= seq {
			break
		}
		r.cond.Wait()
	}
	return append([]*herald.Publication(nil), r.got[channel]...)
}

// HandleEphemeral implements herald.EphemeralHandler. It notes a call
// made while another one for the same channel is in progress (see
// EphemeralOverlaps); to give such a call a chance to show, it yields
// the processor once between its start and its end.
func (r *Recorder) HandleEphemeral(channel string, data []byte) {
	r.mu.Lock()
	if r.ephCalls[channel] > 0 {
		r.ephOverlaps++
	}
	r.ephCalls[channel]++
	r.mu.Unlock()
	runtime.Gosched()
	r.mu.Lock()
	r.ephCalls[channel]--
	r.eph[channel] = append(r.eph[channel], data)
	r.mu.Unlock()
	r.cond.Broadcast()
}

// Ephemeral returns a copy of the list of ephemeral messages the channel
// received so far.
func (r *Recorder) Ephemeral(channel string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.eph[channel]...)
}

// WaitEphemeral waits until the channel received at least n ephemeral
// messages or the timeout passes, and returns what it received.
func (r *Recorder) WaitEphemeral(channel string, n int, timeout time.Duration) [][]byte {
	deadline := time.Now().Add(timeout)
	stop := time.AfterFunc(timeout, r.cond.Broadcast)
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.eph[channel]) < n && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	return append([][]byte(nil), r.eph[channel]...)
}

// EphemeralOverlaps returns how many HandleEphemeral calls were made
// while another one for the same channel was in progress.
func (r *Recorder) EphemeralOverlaps() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ephOverlaps
}

var (
	_ herald.EventHandler     = (*Recorder)(nil)
	_ herald.EphemeralHandler = (*Recorder)(nil)
)
