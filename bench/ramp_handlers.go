package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald/bench/loadgen"
)

// sink receives the subscribers' messages: it counts them and records
// publish→deliver latency in the phase each one was published in.
type sink struct {
	loadgen.NopHandler
	phases   []*phase
	arrivals atomic.Uint64
	bytes    atomic.Uint64 // of the message frames
	// foreign counts messages whose payload is not a stamp of this run.
	foreign atomic.Uint64

	mu     sync.Mutex
	closes map[int]int // by close code; guarded by mu
	closed int         // guarded by mu
}

// Message implements loadgen.Handler.
func (s *sink) Message(_ *loadgen.Client, m *loadgen.Message) {
	now := time.Now().UnixNano()
	s.arrivals.Add(1)
	s.bytes.Add(uint64(m.Size))
	t, ph, ok := loadgen.ParseStamp(m.Payload)
	if !ok || ph < 0 || ph >= len(s.phases) {
		s.foreign.Add(1)
		return
	}
	p := s.phases[ph]
	p.delivered.Add(1)
	p.latency.Record(now - t)
}

// Closed implements loadgen.Handler.
func (s *sink) Closed(_ *loadgen.Client, code int) {
	s.mu.Lock()
	s.closes[code]++
	s.closed++
	s.mu.Unlock()
}

func (s *sink) closeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// closedSince returns how many closes happened after the count was n,
// and all close codes so far, for the report.
func (s *sink) closedSince(n int) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == n {
		return 0, ""
	}
	return s.closed - n, fmt.Sprint(s.closes)
}

// publisher sends stamped publishes from any client and times their acks.
// Publish ids are "<run>-<n>", n numbering the run's publishes, so that
// an ack finds its publish whichever client it comes to.
type publisher struct {
	loadgen.NopHandler
	run    string
	size   int
	phases []*phase

	buf   []byte // publishing goroutine only
	mu    sync.Mutex
	sent  []pubRecord // by publish number; guarded by mu
	acked atomic.Uint64
	// failed counts publishes that could not be written.
	failed atomic.Uint64
	// heads holds, per channel, the highest seq acked so far: the
	// channel's head once every publish is acked.
	heads []atomic.Uint64
}

type pubRecord struct {
	at    int64 // unix ns
	phase int32
	ch    int32
}

// publish sends one stamped publish of phase ph from c to channel number
// ch, named channel.
func (p *publisher) publish(c *loadgen.Client, ch int, channel string, ph int) error {
	now := time.Now().UnixNano()
	p.mu.Lock()
	n := len(p.sent)
	p.sent = append(p.sent, pubRecord{at: now, phase: int32(ph), ch: int32(ch)})
	p.mu.Unlock()
	p.buf = loadgen.AppendStamp(p.buf[:0], now, ph, p.size)
	if err := c.Publish(p.run+"-"+strconv.Itoa(n), channel, "bench", p.buf); err != nil {
		p.failed.Add(1)
		return err
	}
	return nil
}

// Ack implements loadgen.Handler.
func (p *publisher) Ack(_ *loadgen.Client, id []byte, seq uint64) {
	now := time.Now().UnixNano()
	i := bytes.LastIndexByte(id, '-')
	n, err := strconv.Atoi(string(id[i+1:]))
	if err != nil {
		return
	}
	p.mu.Lock()
	var rec pubRecord
	ok := n >= 0 && n < len(p.sent)
	if ok {
		rec = p.sent[n]
	}
	p.mu.Unlock()
	if !ok {
		return
	}
	p.phases[rec.phase].ack.Record(now - rec.at)
	p.acked.Add(1)
	h := &p.heads[rec.ch]
	for {
		l := h.Load()
		if seq <= l || h.CompareAndSwap(l, seq) {
			break
		}
	}
}

func (p *publisher) allAcked() bool {
	p.mu.Lock()
	n := len(p.sent)
	p.mu.Unlock()
	return p.acked.Load()+p.failed.Load() >= uint64(n)
}

// head is the highest seq acked so far on channel number ch.
func (p *publisher) head(ch int) uint64 { return p.heads[ch].Load() }

// member is the handler of a client that subscribes and publishes on the
// same connection (a chat room's member).
type member struct {
	*sink
	pub *publisher
}

// Ack implements loadgen.Handler.
func (m member) Ack(c *loadgen.Client, id []byte, seq uint64) { m.pub.Ack(c, id, seq) }

var (
	_ loadgen.Handler = (*sink)(nil)
	_ loadgen.Handler = (*publisher)(nil)
	_ loadgen.Handler = member{}
)
