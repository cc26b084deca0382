package bench

import (
	"fmt"
	"io"

	"github.com/heraldrt/herald/bench/report"
)

// ChatReport is what RunChat measured. Publish rates are of all members
// together; a publish is delivered to every member of its room, the
// publisher included.
type ChatReport struct {
	Scenario string     `json:"scenario"`
	Server   ServerInfo `json:"server"`
	Rooms    int        `json:"rooms"`
	// Members counts the members of every room, each one connection.
	Members      int     `json:"members"`
	MinMembers   int     `json:"min_members"`
	MaxMembers   int     `json:"max_members"`
	MeanRoomSize float64 `json:"mean_room_size"`
	// DeliveriesPerPublish is the mean room size as the publishes see it
	// (bigger rooms have more publishers).
	DeliveriesPerPublish float64 `json:"deliveries_per_publish"`
	PayloadBytes         int     `json:"payload_bytes"`
	RampResult
}

// Info implements RampReport.
func (r *ChatReport) Info() ServerInfo { return r.Server }

// WriteTable writes the report as tables.
func (r *ChatReport) WriteTable(w io.Writer) error {
	title := fmt.Sprintf("herald bench chat — %d rooms of %d–%d members (%d members), %d-byte payloads (%.0f-byte frames), %s",
		r.Rooms, r.MinMembers, r.MaxMembers, r.Members, r.PayloadBytes, r.FrameBytes, serverLabel(r.Server))
	return r.write(w, title, r.Server, [][2]string{
		{"rooms", fmt.Sprintf("%d, mean size %.2f, %.2f deliveries per publish", r.Rooms, r.MeanRoomSize, r.DeliveriesPerPublish)},
	})
}

// Chart returns publish→deliver and publish→ack latency percentiles per
// ramp step, with the steady run's as separate points.
func (r *ChatReport) Chart() *report.Chart {
	series := r.latencySeries("deliver ")
	ack50 := report.Series{Name: "ack p50"}
	ack99 := report.Series{Name: "ack p99"}
	for _, s := range r.Steps {
		ack50.Points = append(ack50.Points, report.Point{X: s.PublishRate, Y: s.AckLatency.P50Ms})
		ack99.Points = append(ack99.Points, report.Point{X: s.PublishRate, Y: s.AckLatency.P99Ms})
	}
	if len(r.Steps) > 0 {
		series = append(series, ack50, ack99)
	}
	return &report.Chart{
		Title:  fmt.Sprintf("herald bench chat: latency, %d rooms, %d members", r.Rooms, r.Members),
		XLabel: "publish rate (messages/s, all members together)", YLabel: "latency (ms)",
		XLog: true, YLog: true, Series: series,
	}
}

var _ RampReport = (*ChatReport)(nil)
