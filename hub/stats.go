package hub

import (
	"sync/atomic"
	"time"
)

// Stats are the hub's counters, kept with atomics so that the hot path
// pays no more than an atomic add. The metrics package reads them when
// scraped.
type Stats struct {
	Connections      atomic.Int64 // open sessions
	ConnectionsTotal atomic.Uint64
	Authenticated    atomic.Int64 // open sessions that have authenticated
	Subscriptions    atomic.Int64 // active subscriptions
	Channels         atomic.Int64 // channels with local subscribers
	// Nodes is the number of nodes sharing the broker, this one included
	// (1 with a broker of one node), read every Config.NodesInterval.
	Nodes atomic.Int64

	FramesIn   atomic.Uint64 // client frames received
	BytesIn    atomic.Uint64
	MessagesIn atomic.Uint64 // publishes stored (not counting duplicates)
	Duplicates atomic.Uint64 // publishes answered from the dedupe index
	FramesOut  atomic.Uint64 // server frames written
	BytesOut   atomic.Uint64
	Delivered  atomic.Uint64 // message frames written to subscribers

	Resumes          atomic.Uint64 // subscribes with lastSeq
	Replayed         atomic.Uint64 // message frames sent from history
	SnapshotRequired atomic.Uint64
	SlowConsumers    atomic.Uint64 // sessions closed with 4008
	AuthFailures     atomic.Uint64
	Errors           atomic.Uint64 // error frames sent
	PresenceFrames   atomic.Uint64 // presence_diff frames sent
	TypingFrames     atomic.Uint64 // typing frames sent

	// DeliveryLatency is publish→deliver time: from the server time
	// stamped on a publication to the write of its frame to the last
	// local subscriber.
	DeliveryLatency Histogram
}

// LatencyBuckets are the upper bounds, in seconds, of the delivery latency
// histogram.
var LatencyBuckets = []float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Histogram is a fixed-bucket histogram updated with atomics.
type Histogram struct {
	counts [16]atomic.Uint64 // len(LatencyBuckets)+1, the last is +Inf
	sumNs  atomic.Int64
	count  atomic.Uint64
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
	h.count.Add(1)
}

// Snapshot returns cumulative counts per bucket (as Prometheus wants
// them), the total count and the sum in seconds.
func (h *Histogram) Snapshot() (cumulative []uint64, count uint64, sum float64) {
	cumulative = make([]uint64, len(LatencyBuckets))
	var run uint64
	for i := range LatencyBuckets {
		run += h.counts[i].Load()
		cumulative[i] = run
	}
	return cumulative, h.count.Load(), time.Duration(h.sumNs.Load()).Seconds()
}
