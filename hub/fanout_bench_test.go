package hub

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

// countConn is a Conn that counts bytes and discards them, to measure the
// hub's own share of a fan-out without the network.
type countConn struct {
	bytes atomic.Int64
	sess  *Session
}

func (c *countConn) Write(frames []*Frame) (int, error) {
	for _, f := range frames {
		c.bytes.Add(int64(len(f.JSON)))
	}
	return 0, nil
}
func (c *countConn) Pending() int       { return 0 }
func (c *countConn) Ping() error        { return nil }
func (c *countConn) Close(int, string)  { go c.sess.Closed() }
func (c *countConn) Abort()             { go c.sess.Closed() }
func (c *countConn) RemoteAddr() string { return "bench" }

// BenchmarkFanout measures the hub's cost per delivery: one publication to
// a channel with many local subscribers, encoded once and queued and
// flushed on every session. Report: ns/delivery.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{100, 5000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			clock := &fakeClock{now: time.Now()}
			h := newBenchHub(b, clock)
			tok, _ := auth.Mint(secret, "bench", []string{"chat.>"}, time.Hour, clock.Now())
			for range subs {
				c := &countConn{}
				s := h.NewSession(c)
				c.sess = s
				s.HandleMessage([]byte(`{"type":"auth","token":"` + tok + `"}`))
				s.HandleMessage([]byte(`{"type":"subscribe","channel":"chat.1"}`))
			}
			payload := []byte(`{"text":"a message of about one hundred bytes, as chat apps send them all day long"}`)
			seq := uint64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				seq++
				h.HandlePublications("chat.1", []*herald.Publication{{
					Seq: seq, ID: "m", Event: "message.new", Payload: payload, Time: clock.Now().UnixMilli(), From: "alice",
				}})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(subs), "ns/delivery")
		})
	}
}
