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
	RampResult
}

// Info implements RampReport.
func (r *FanoutReport) Info() ServerInfo { return r.Server }

// WriteTable writes the report as tables.
func (r *FanoutReport) WriteTable(w io.Writer) error {
	title := fmt.Sprintf("herald bench fanout — 1 channel × %d subscribers, %d-byte payloads (%.0f-byte frames), %s",
		r.Subscribers, r.PayloadBytes, r.FrameBytes, serverLabel(r.Server))
	return r.write(w, title, r.Server, nil)
}

// Chart returns publish→deliver latency percentiles per ramp step, with
// the steady run's as separate points.
func (r *FanoutReport) Chart() *report.Chart {
	return &report.Chart{
		Title:  fmt.Sprintf("herald bench fanout: publish→deliver latency, %d subscribers", r.Subscribers),
		XLabel: "publish rate (messages/s, each to every subscriber)", YLabel: "latency (ms)",
		XLog: true, YLog: true,
		Series: r.latencySeries(""),
	}
}

var _ RampReport = (*FanoutReport)(nil)
