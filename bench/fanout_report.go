package bench

import (
	"fmt"
	"io"

	"github.com/heraldrt/herald/bench/report"
)

// FanoutReport is what RunFanout measured.
type FanoutReport struct {
	Scenario     string     `json:"scenario"`
	Server       ServerInfo `json:"server"`
	Subscribers  int        `json:"subscribers"`
	PayloadBytes int        `json:"payload_bytes"`
	// FrameBytes is the mean size of the message frames received (the
	// JSON; the WebSocket header adds 2 to 4 bytes).
	FrameBytes  float64 `json:"frame_bytes"`
	StepSeconds float64 `json:"step_seconds"`
	RampFactor  float64 `json:"ramp_factor"`

	Steps      []FanoutStep `json:"steps"`
	Saturation Saturation   `json:"saturation"`
	Steady     SteadyRun    `json:"steady"`

	// Ramp and SteadyIntegrity check every subscriber's seqs.
	Ramp            Integrity `json:"ramp_integrity"`
	SteadyIntegrity Integrity `json:"steady_integrity"`
	// Lost and Duplicated add both up; both must be 0.
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
}

// FanoutStep is one step of the ramp (or the steady run's window).
type FanoutStep struct {
	Index       int     `json:"index"`
	TargetRate  float64 `json:"target_rate"`
	Published   int     `json:"published"`
	PublishRate float64 `json:"publish_rate"`
	Seconds     float64 `json:"seconds"`
	// ExpectedPerSec is PublishRate times the connected subscribers;
	// DeliveredPerSec the messages that arrived in the step's window.
	ExpectedPerSec  float64 `json:"expected_per_second"`
	DeliveredPerSec float64 `json:"delivered_per_second"`
	// Latency is publish→deliver of the messages published in this step,
	// AckLatency publish→ack.
	Latency    report.Latency `json:"latency"`
	AckLatency report.Latency `json:"ack_latency"`

	ServerCPUPercent           float64 `json:"server_cpu_percent"`
	ServerCPUMicrosPerDelivery float64 `json:"server_cpu_us_per_delivery"`
	LoadCPUPercent             float64 `json:"load_cpu_percent"`

	Closed     int    `json:"closed"`
	CloseCodes string `json:"close_codes,omitempty"`
	KeptUp     bool   `json:"kept_up"`
	Reason     string `json:"reason,omitempty"`
}

// Saturation is the best delivery rate the ramp saw.
type Saturation struct {
	DeliveredPerSec float64 `json:"delivered_per_second"`
	PublishRate     float64 `json:"publish_rate"`
	Step            int     `json:"step"`
	// Reached is false when the ramp ended with every step keeping up.
	Reached bool   `json:"reached"`
	Reason  string `json:"reason"`
}

// SteadyRun is the run at a fraction of the saturation rate.
type SteadyRun struct {
	Fraction        float64        `json:"fraction"`
	TargetRate      float64        `json:"target_rate"`
	PublishRate     float64        `json:"publish_rate"`
	Seconds         float64        `json:"seconds"`
	DeliveredPerSec float64        `json:"delivered_per_second"`
	ExpectedPerSec  float64        `json:"expected_per_second"`
	Latency         report.Latency `json:"latency"`
	AckLatency      report.Latency `json:"ack_latency"`

	ServerCPUPercent           float64 `json:"server_cpu_percent"`
	ServerCPUMicrosPerDelivery float64 `json:"server_cpu_us_per_delivery"`
	LoadCPUPercent             float64 `json:"load_cpu_percent"`
}

// Integrity is the seq accounting of a phase over all subscribers.
type Integrity struct {
	// Received counts message frames.
	Received uint64 `json:"received"`
	// Lost counts seqs some subscriber skipped (and, after the steady
	// run, seqs a connected subscriber never got).
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	// Undelivered counts, after the ramp, what connected subscribers had
	// not received when the drain ended (an overloaded server may still be
	// sending it).
	Undelivered uint64 `json:"undelivered"`
	Drained     bool   `json:"drained"`
	// Closed counts subscribers the server closed, by close code.
	Closed     int            `json:"closed"`
	CloseCodes map[string]int `json:"close_codes,omitempty"`
}

// WriteTable writes the report as tables.
func (r *FanoutReport) WriteTable(w io.Writer) error {
	t := report.Table{
		Title: fmt.Sprintf("herald bench fanout — 1 channel × %d subscribers, %d-byte payloads (%.0f-byte frames), %s",
			r.Subscribers, r.PayloadBytes, r.FrameBytes, serverLabel(r.Server)),
		Header: []string{"step", "msg/s", "delivered/s", "expected/s", "p50 ms", "p99 ms", "p99.9 ms", "srv CPU", "µs/deliv", "load CPU", "ok"},
	}
	for _, s := range r.Steps {
		ok := "yes"
		if !s.KeptUp {
			ok = "no: " + s.Reason
		}
		t.AddRow(s.Index, f1(s.PublishRate), f0(s.DeliveredPerSec), f0(s.ExpectedPerSec),
			f2(s.Latency.P50Ms), f2(s.Latency.P99Ms), f2(s.Latency.P999Ms),
			pct(s.ServerCPUPercent), f2(s.ServerCPUMicrosPerDelivery), pct(s.LoadCPUPercent), ok)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	s := report.Table{Header: []string{"measure", "value"}}
	s.AddRow("saturation", fmt.Sprintf("%.0f deliveries/s (step %d, %.1f msg/s; %s)", r.Saturation.DeliveredPerSec, r.Saturation.Step, r.Saturation.PublishRate, r.Saturation.Reason))
	st := r.Steady
	s.AddRow(fmt.Sprintf("steady run at %.0f%%", 100*st.Fraction), fmt.Sprintf("%.1f msg/s for %.0fs, %.0f deliveries/s", st.PublishRate, st.Seconds, st.DeliveredPerSec))
	s.AddRow("publish→deliver p50 / p99 / p99.9 / max", fmt.Sprintf("%.2f / %.2f / %.2f / %.2f ms (%d samples)", st.Latency.P50Ms, st.Latency.P99Ms, st.Latency.P999Ms, st.Latency.MaxMs, st.Latency.Count))
	s.AddRow("publish→ack p50 / p99", fmt.Sprintf("%.2f / %.2f ms", st.AckLatency.P50Ms, st.AckLatency.P99Ms))
	s.AddRow("server CPU at steady", fmt.Sprintf("%s of a core, %.2f µs per delivery", pct(st.ServerCPUPercent), st.ServerCPUMicrosPerDelivery))
	s.AddRow("load generator CPU at steady", pct(st.LoadCPUPercent))
	s.AddRow("lost / duplicated", fmt.Sprintf("%d / %d", r.Lost, r.Duplicated))
	s.AddRow("ramp: undelivered after drain / closed", fmt.Sprintf("%d / %d %v", r.Ramp.Undelivered, r.Ramp.Closed, r.Ramp.CloseCodes))
	return s.Write(w)
}

// Chart returns publish→deliver latency percentiles per ramp step, with
// the steady run's as separate points.
func (r *FanoutReport) Chart() *report.Chart {
	p50 := report.Series{Name: "p50"}
	p99 := report.Series{Name: "p99"}
	p999 := report.Series{Name: "p99.9"}
	for _, s := range r.Steps {
		p50.Points = append(p50.Points, report.Point{X: s.PublishRate, Y: s.Latency.P50Ms})
		p99.Points = append(p99.Points, report.Point{X: s.PublishRate, Y: s.Latency.P99Ms})
		p999.Points = append(p999.Points, report.Point{X: s.PublishRate, Y: s.Latency.P999Ms})
	}
	st := r.Steady
	steady := report.Series{Name: fmt.Sprintf("steady run at %.0f%% (p50, p99, p99.9)", 100*st.Fraction)}
	for _, v := range []float64{st.Latency.P50Ms, st.Latency.P99Ms, st.Latency.P999Ms} {
		steady.Points = append(steady.Points, report.Point{X: st.PublishRate, Y: v})
	}
	return &report.Chart{
		Title:  fmt.Sprintf("herald bench fanout: publish→deliver latency, %d subscribers", r.Subscribers),
		XLabel: "publish rate (messages/s, each to every subscriber)", YLabel: "latency (ms)",
		XLog: true, YLog: true,
		Series: []report.Series{p50, p99, p999, steady},
	}
}

func f0(v float64) string  { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string  { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string  { return fmt.Sprintf("%.2f", v) }
func pct(v float64) string { return fmt.Sprintf("%.0f%%", v) }
