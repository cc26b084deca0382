package bench

import (
	"fmt"
	"io"

	"github.com/heraldrt/herald/bench/report"
)

// FanoutComparison sets a Herald fan-out run beside a bare broadcast run
// made by the same invocation, so that the ratios BENCH.md asks for come
// from one run of the machine rather than two.
type FanoutComparison struct {
	Scenario string        `json:"scenario"`
	Herald   *FanoutReport `json:"herald"`
	Baseline *FanoutReport `json:"baseline"`
	// SaturationRatio is Herald's saturation rate over the baseline's.
	SaturationRatio float64 `json:"saturation_ratio"`
	// CPURatio is the baseline's server CPU per delivery over Herald's, at
	// the highest ramp step both kept up with (same publish rate): the
	// share of the bare loop's efficiency Herald keeps.
	CPURatio float64 `json:"cpu_efficiency_ratio"`
	CPUStep  int     `json:"cpu_ratio_step"`
	// P99Ratio is Herald's steady-run p99 over the baseline's.
	P99Ratio float64 `json:"steady_p99_ratio"`
}

// Compare builds the comparison of two runs.
func Compare(herald, baseline *FanoutReport) *FanoutComparison {
	c := &FanoutComparison{Scenario: "fanout-compare", Herald: herald, Baseline: baseline, CPUStep: -1}
	if b := baseline.Saturation.DeliveredPerSec; b > 0 {
		c.SaturationRatio = herald.Saturation.DeliveredPerSec / b
	}
	if b := baseline.Steady.Latency.P99Ms; b > 0 {
		c.P99Ratio = herald.Steady.Latency.P99Ms / b
	}
	for i := 0; i < len(herald.Steps) && i < len(baseline.Steps); i++ {
		h, b := herald.Steps[i], baseline.Steps[i]
		if h.KeptUp && b.KeptUp && h.ServerCPUMicrosPerDelivery > 0 {
			c.CPURatio = b.ServerCPUMicrosPerDelivery / h.ServerCPUMicrosPerDelivery
			c.CPUStep = i
		}
	}
	return c
}

// WriteTable writes both reports and the ratios.
func (c *FanoutComparison) WriteTable(w io.Writer) error {
	if err := c.Baseline.WriteTable(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := c.Herald.WriteTable(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := report.Table{Title: "herald ÷ bare broadcast loop, same invocation", Header: []string{"measure", "herald", "bare", "ratio"}}
	t.AddRow("saturation deliveries/s", f0(c.Herald.Saturation.DeliveredPerSec), f0(c.Baseline.Saturation.DeliveredPerSec), fmt.Sprintf("%.2f", c.SaturationRatio))
	if c.CPUStep >= 0 {
		h, b := c.Herald.Steps[c.CPUStep], c.Baseline.Steps[c.CPUStep]
		t.AddRow(fmt.Sprintf("server µs per delivery at %.1f msg/s", h.PublishRate), f2(h.ServerCPUMicrosPerDelivery), f2(b.ServerCPUMicrosPerDelivery), fmt.Sprintf("%.2f (efficiency)", c.CPURatio))
	}
	t.AddRow("steady p99 ms (each at 50% of its own saturation)", f2(c.Herald.Steady.Latency.P99Ms), f2(c.Baseline.Steady.Latency.P99Ms), fmt.Sprintf("%.2f", c.P99Ratio))
	return t.Write(w)
}

// Chart plots both runs' p50 and p99 per step.
func (c *FanoutComparison) Chart() *report.Chart {
	var series []report.Series
	for _, run := range []struct {
		name string
		r    *FanoutReport
	}{{"herald", c.Herald}, {"bare", c.Baseline}} {
		p50 := report.Series{Name: run.name + " p50"}
		p99 := report.Series{Name: run.name + " p99"}
		for _, s := range run.r.Steps {
			p50.Points = append(p50.Points, report.Point{X: s.PublishRate, Y: s.Latency.P50Ms})
			p99.Points = append(p99.Points, report.Point{X: s.PublishRate, Y: s.Latency.P99Ms})
		}
		series = append(series, p50, p99)
	}
	return &report.Chart{
		Title:  fmt.Sprintf("publish→deliver latency, herald vs bare broadcast, %d subscribers", c.Herald.Subscribers),
		XLabel: "publish rate (messages/s, each to every subscriber)", YLabel: "latency (ms)",
		XLog: true, YLog: true, Series: series,
	}
}
