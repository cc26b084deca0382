package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/webhook"
)

const namespace = "herald"

// Collector is a prometheus.Collector over a hub's Stats.
type Collector struct {
	stats   *hub.Stats
	gauges  []stat
	counts  []stat
	latency *prometheus.Desc
}

type stat struct {
	desc *prometheus.Desc
	get  func(*hub.Stats) float64
}

func newStat(name, help string, get func(*hub.Stats) float64) stat {
	return stat{prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil), get}
}

// NewCollector returns a Collector for stats.
func NewCollector(stats *hub.Stats) *Collector {
	return &Collector{
		stats: stats,
		gauges: []stat{
			newStat("connections", "Open client connections.", func(s *hub.Stats) float64 { return float64(s.Connections.Load()) }),
			newStat("connections_authenticated", "Open connections that have authenticated.", func(s *hub.Stats) float64 { return float64(s.Authenticated.Load()) }),
			newStat("subscriptions", "Active subscriptions on this node.", func(s *hub.Stats) float64 { return float64(s.Subscriptions.Load()) }),
			newStat("channels", "Channels with subscribers on this node.", func(s *hub.Stats) float64 { return float64(s.Channels.Load()) }),
			newStat("nodes", "Nodes sharing the broker, this one included (1 when embedded); read every few seconds.", func(s *hub.Stats) float64 { return float64(s.Nodes.Load()) }),
		},
		counts: []stat{
			newStat("connections_total", "Connections accepted.", func(s *hub.Stats) float64 { return float64(s.ConnectionsTotal.Load()) }),
			newStat("frames_in_total", "Frames received from clients.", func(s *hub.Stats) float64 { return float64(s.FramesIn.Load()) }),
			newStat("bytes_in_total", "Bytes of frames received from clients.", func(s *hub.Stats) float64 { return float64(s.BytesIn.Load()) }),
			newStat("messages_in_total", "Publishes stored.", func(s *hub.Stats) float64 { return float64(s.MessagesIn.Load()) }),
			newStat("publish_duplicates_total", "Publish retries answered from the dedupe index.", func(s *hub.Stats) float64 { return float64(s.Duplicates.Load()) }),
			newStat("frames_out_total", "Frames written to clients.", func(s *hub.Stats) float64 { return float64(s.FramesOut.Load()) }),
			newStat("bytes_out_total", "Bytes of frames written to clients (JSON, without transport framing).", func(s *hub.Stats) float64 { return float64(s.BytesOut.Load()) }),
			newStat("messages_out_total", "Message frames written to subscribers, live and replayed.", func(s *hub.Stats) float64 { return float64(s.Delivered.Load()) }),
			newStat("resumes_total", "Subscribes with lastSeq: clients coming back.", func(s *hub.Stats) float64 { return float64(s.Resumes.Load()) }),
			newStat("replayed_messages_total", "Message frames sent from history.", func(s *hub.Stats) float64 { return float64(s.Replayed.Load()) }),
			newStat("snapshot_required_total", "snapshot_required frames sent.", func(s *hub.Stats) float64 { return float64(s.SnapshotRequired.Load()) }),
			newStat("slow_consumer_closes_total", "Connections closed with 4008 (slow consumer).", func(s *hub.Stats) float64 { return float64(s.SlowConsumers.Load()) }),
			newStat("auth_failures_total", "Rejected auth frames.", func(s *hub.Stats) float64 { return float64(s.AuthFailures.Load()) }),
			newStat("errors_total", "Error frames sent.", func(s *hub.Stats) float64 { return float64(s.Errors.Load()) }),
			newStat("presence_frames_total", "presence_diff frames written to watchers (and presence_state after a channel shrinks below presence_max_members).", func(s *hub.Stats) float64 { return float64(s.PresenceFrames.Load()) }),
			newStat("typing_frames_total", "typing_notice frames written.", func(s *hub.Stats) float64 { return float64(s.TypingFrames.Load()) }),
		},
		latency: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "delivery_latency_seconds"),
			"Publish to deliver latency: from the publication's server timestamp to the write to the last local subscriber.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range c.gauges {
		ch <- s.desc
	}
	for _, s := range c.counts {
		ch <- s.desc
	}
	ch <- c.latency
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.gauges {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, s.get(c.stats))
	}
	for _, s := range c.counts {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.CounterValue, s.get(c.stats))
	}
	cum, count, sum := c.stats.DeliveryLatency.Snapshot()
	buckets := make(map[float64]uint64, len(cum))
	for i, ub := range hub.LatencyBuckets {
		buckets[ub] = cum[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, count, sum, buckets)
}

// Handler returns the /metrics handler for a hub's stats, with the Go
// runtime and process collectors beside them, and the webhook's when
// hooks is not nil.
func Handler(stats *hub.Stats, hooks *webhook.Hooks) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(stats),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if hooks != nil {
		reg.MustRegister(newWebhookCollector(hooks))
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

var _ prometheus.Collector = (*Collector)(nil)
