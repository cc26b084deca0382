package bench

import (
	"fmt"
	"io"

	"github.com/heraldrt/herald/bench/report"
)

// RampResult is what a ramp and a steady run measured: the part of the
// fanout and chat reports they share.
type RampResult struct {
	// FrameBytes is the mean size of the message frames received (the
	// JSON; the WebSocket header adds 2 to 4 bytes).
	FrameBytes  float64 `json:"frame_bytes"`
	StepSeconds float64 `json:"step_seconds"`
	RampFactor  float64 `json:"ramp_factor"`

	// Steps are the ramp's steps; none with a fixed rate.
	Steps      []RampStep `json:"steps"`
	Saturation Saturation `json:"saturation"`
	Steady     SteadyRun  `json:"steady"`

	// RampIntegrity and SteadyIntegrity check every subscriber's seqs.
	RampIntegrity   Integrity `json:"ramp_integrity"`
	SteadyIntegrity Integrity `json:"steady_integrity"`
	// Lost and Duplicated add both up; both must be 0.
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	// ErrorFrames counts the error frames the server sent to connected
	// clients (a refused or rate-limited publish, for one); LastError is
	// the last one's message.
	ErrorFrames uint64 `json:"error_frames"`
	LastError   string `json:"last_error,omitempty"`
}

// RampStep is one step of the ramp (or the steady run's window).
type RampStep struct {
	Index      int     `json:"index"`
	TargetRate float64 `json:"target_rate"`
	// Published counts the step's publishes; PublishRate is their rate,
	// all publishers together.
	Published   int     `json:"published"`
	PublishRate float64 `json:"publish_rate"`
	Seconds     float64 `json:"seconds"`
	// ExpectedPerSec is what the step's publishes owe to the connected
	// subscribers of their channels, per second; DeliveredPerSec the
	// messages that arrived in the step's window.
	ExpectedPerSec  float64 `json:"expected_per_second"`
	DeliveredPerSec float64 `json:"delivered_per_second"`
	// Latency is publish→deliver of the messages published in this step,
	// AckLatency publish→ack.
	Latency    report.Latency `json:"latency"`
	AckLatency report.Latency `json:"ack_latency"`

	// ServerCPUPercent adds up every node's CPU, in percent of one core.
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
	// Reached is false when the ramp ended with every step keeping up
	// (or there was no ramp).
	Reached bool   `json:"reached"`
	Reason  string `json:"reason"`
}

// SteadyRun is the run at a fraction of the saturation rate, or at a
// fixed rate (Fraction 0).
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

// RampReport is the report of a scenario that ramps and runs steady:
// fanout and chat.
type RampReport interface {
	WriteTable(io.Writer) error
	Chart() *report.Chart
	// Ramped returns the measurements.
	Ramped() *RampResult
	// Info returns the server the run measured.
	Info() ServerInfo
}

// Ramped implements RampReport.
func (r *RampResult) Ramped() *RampResult { return r }

// stepTable returns the ramp's steps as a table.
func (r *RampResult) stepTable(title string) *report.Table {
	t := &report.Table{
		Title:  title,
		Header: []string{"step", "msg/s", "delivered/s", "expected/s", "p50 ms", "p99 ms", "p99.9 ms", "ack p99 ms", "srv CPU", "µs/deliv", "load CPU", "ok"},
	}
	for _, s := range r.Steps {
		ok := "yes"
		if !s.KeptUp {
			ok = "no: " + s.Reason
		}
		t.AddRow(s.Index, f1(s.PublishRate), f0(s.DeliveredPerSec), f0(s.ExpectedPerSec),
			f2(s.Latency.P50Ms), f2(s.Latency.P99Ms), f2(s.Latency.P999Ms), f2(s.AckLatency.P99Ms),
			pct(s.ServerCPUPercent), f2(s.ServerCPUMicrosPerDelivery), pct(s.LoadCPUPercent), ok)
	}
	return t
}

// summaryRows adds the saturation, the steady run and the integrity
// checks to t.
func (r *RampResult) summaryRows(t *report.Table) {
	if len(r.Steps) > 0 {
		t.AddRow("saturation", fmt.Sprintf("%.0f deliveries/s (step %d, %.1f msg/s; %s)", r.Saturation.DeliveredPerSec, r.Saturation.Step, r.Saturation.PublishRate, r.Saturation.Reason))
	}
	st := r.Steady
	name := "steady run at a fixed rate"
	if st.Fraction > 0 {
		name = fmt.Sprintf("steady run at %.0f%%", 100*st.Fraction)
	}
	t.AddRow(name, fmt.Sprintf("%.1f msg/s for %.0fs, %.0f deliveries/s (%.0f expected)", st.PublishRate, st.Seconds, st.DeliveredPerSec, st.ExpectedPerSec))
	t.AddRow("publish→deliver p50 / p99 / p99.9 / max", fmt.Sprintf("%.2f / %.2f / %.2f / %.2f ms (%d samples)", st.Latency.P50Ms, st.Latency.P99Ms, st.Latency.P999Ms, st.Latency.MaxMs, st.Latency.Count))
	t.AddRow("publish→ack p50 / p99 / p99.9", fmt.Sprintf("%.2f / %.2f / %.2f ms (%d samples)", st.AckLatency.P50Ms, st.AckLatency.P99Ms, st.AckLatency.P999Ms, st.AckLatency.Count))
	t.AddRow("server CPU at steady", fmt.Sprintf("%s of a core, %.2f µs per delivery", pct(st.ServerCPUPercent), st.ServerCPUMicrosPerDelivery))
	t.AddRow("load generator CPU at steady", pct(st.LoadCPUPercent))
	t.AddRow("lost / duplicated", fmt.Sprintf("%d / %d", r.Lost, r.Duplicated))
	if len(r.Steps) > 0 {
		t.AddRow("ramp: undelivered after drain / closed", fmt.Sprintf("%d / %d %v", r.RampIntegrity.Undelivered, r.RampIntegrity.Closed, r.RampIntegrity.CloseCodes))
	}
	if r.ErrorFrames > 0 {
		t.AddRow("error frames from the server", fmt.Sprintf("%d (last: %s)", r.ErrorFrames, r.LastError))
	}
}

// write writes the step table (if the ramp ran) and the summary table,
// with the scenario's own rows first.
func (r *RampResult) write(w io.Writer, title string, server ServerInfo, rows [][2]string) error {
	if len(r.Steps) > 0 {
		if err := r.stepTable(title).Write(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
		title = ""
	}
	s := report.Table{Title: title, Header: []string{"measure", "value"}}
	for _, row := range rows {
		s.AddRow(row[0], row[1])
	}
	s.AddRow("pinning", pinningLabel(server))
	r.summaryRows(&s)
	return s.Write(w)
}

// latencySeries returns the publish→deliver p50, p99 and p99.9 per ramp
// step, named with prefix, and the steady run's as a separate series.
func (r *RampResult) latencySeries(prefix string) []report.Series {
	p50 := report.Series{Name: prefix + "p50"}
	p99 := report.Series{Name: prefix + "p99"}
	p999 := report.Series{Name: prefix + "p99.9"}
	for _, s := range r.Steps {
		p50.Points = append(p50.Points, report.Point{X: s.PublishRate, Y: s.Latency.P50Ms})
		p99.Points = append(p99.Points, report.Point{X: s.PublishRate, Y: s.Latency.P99Ms})
		p999.Points = append(p999.Points, report.Point{X: s.PublishRate, Y: s.Latency.P999Ms})
	}
	st := r.Steady
	name := "steady run, fixed rate (p50, p99, p99.9)"
	if st.Fraction > 0 {
		name = fmt.Sprintf("steady run at %.0f%% (p50, p99, p99.9)", 100*st.Fraction)
	}
	steady := report.Series{Name: prefix + name}
	for _, v := range []float64{st.Latency.P50Ms, st.Latency.P99Ms, st.Latency.P999Ms} {
		steady.Points = append(steady.Points, report.Point{X: st.PublishRate, Y: v})
	}
	if len(r.Steps) == 0 {
		return []report.Series{steady}
	}
	return []report.Series{p50, p99, p999, steady}
}

func f0(v float64) string  { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string  { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string  { return fmt.Sprintf("%.2f", v) }
func pct(v float64) string { return fmt.Sprintf("%.0f%%", v) }
