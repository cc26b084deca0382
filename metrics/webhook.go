package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldrt/herald/webhook"
)

// webhookCollector exports the webhook's counters.
type webhookCollector struct {
	hooks     *webhook.Hooks
	decisions *prometheus.Desc
	notes     *prometheus.Desc
	retries   *prometheus.Desc
	pending   *prometheus.Desc
}

func newWebhookCollector(h *webhook.Hooks) *webhookCollector {
	fq := func(n string) string { return prometheus.BuildFQName(namespace, "webhook", n) }
	return &webhookCollector{
		hooks:     h,
		decisions: prometheus.NewDesc(fq("decisions_total"), "App backend decisions by result: allowed, rewritten (also counted as allowed), denied, failed (the client got internal).", []string{"result"}, nil),
		notes:     prometheus.NewDesc(fq("notifications_total"), "Disconnect and unsubscribe notifications by outcome: sent, dropped (queue full or left at shutdown), failed (every attempt).", []string{"outcome"}, nil),
		retries:   prometheus.NewDesc(fq("retries_total"), "Webhook requests sent again after a failed attempt.", nil, nil),
		pending:   prometheus.NewDesc(fq("notifications_pending"), "Notifications waiting to be sent.", nil, nil),
	}
}

func (c *webhookCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.decisions
	ch <- c.notes
	ch <- c.retries
	ch <- c.pending
}

func (c *webhookCollector) Collect(ch chan<- prometheus.Metric) {
	s := &c.hooks.Stats
	counter := func(d *prometheus.Desc, v uint64, label ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label...)
	}
	counter(c.decisions, s.DecisionsAllowed.Load(), "allowed")
	counter(c.decisions, s.Rewrites.Load(), "rewritten")
	counter(c.decisions, s.DecisionsDenied.Load(), "denied")
	counter(c.decisions, s.DecisionsFailed.Load(), "failed")
	counter(c.notes, s.NotificationsSent.Load(), "sent")
	counter(c.notes, s.NotificationsDropped.Load(), "dropped")
	counter(c.notes, s.NotificationsFailed.Load(), "failed")
	counter(c.retries, s.Retries.Load())
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(c.hooks.Pending()))
}

var _ prometheus.Collector = (*webhookCollector)(nil)
