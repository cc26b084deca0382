package brokertest

import (
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

// Recorder is an [herald.EventHandler] that keeps what it is given.
type Recorder struct {
	mu   sync.Mutex
	cond *sync.Cond
	got  map[string][]*herald.Publication
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	r := &Recorder{got: make(map[string][]*herald.Publication)}
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

var _ herald.EventHandler = (*Recorder)(nil)
