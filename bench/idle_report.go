package bench

import (
	"fmt"
	"io"
	"strings"

	"github.com/heraldrt/herald/bench/report"
)

// IdleTargetBytesPerConn is BENCH.md's target for an idle, authenticated,
// subscribed connection: 2 KB of server user-space memory.
const IdleTargetBytesPerConn = 2048

// IdleReport is what RunIdle measured.
type IdleReport struct {
	Scenario string     `json:"scenario"`
	Server   ServerInfo `json:"server"`
	Conns    int        `json:"conns"`

	ConnectSeconds float64 `json:"connect_seconds"`
	ConnectRate    float64 `json:"connect_per_second"`
	IdleSeconds    float64 `json:"idle_seconds"`

	// RSSBefore is the lowest reading before connecting; RSSAfter the
	// reading at the end of the idle period; RSSAfterMin the lowest in its
	// second half. All in bytes.
	RSSBefore   int64 `json:"rss_before_bytes"`
	RSSAfter    int64 `json:"rss_after_bytes"`
	RSSAfterMin int64 `json:"rss_after_min_bytes"`
	// BytesPerConn is (RSSAfter - RSSBefore) / Conns; BytesPerConnMin uses
	// RSSAfterMin.
	BytesPerConn       float64 `json:"bytes_per_conn"`
	BytesPerConnMin    float64 `json:"bytes_per_conn_min"`
	TargetBytesPerConn int     `json:"target_bytes_per_conn"`
	MeetsTarget        bool    `json:"meets_target"`

	// CPUPercent is the server's CPU use while idle, in percent of one
	// core; CPUMsPerSec the same in CPU milliseconds per second.
	CPUPercent  float64 `json:"cpu_percent"`
	CPUMsPerSec float64 `json:"cpu_ms_per_second"`
	// Pings counts server heartbeats the clients answered while idle.
	Pings uint64 `json:"pings"`
	// Closed counts connections that ended while idle (should be 0);
	// Messages counts message frames received (should be 0).
	Closed   int   `json:"closed"`
	Messages int64 `json:"messages"`
	// KernelSlabPerConn is the growth of the kernel's slab memory per
	// connection, system-wide (so it counts both ends of each socket and
	// anything else running): a rough figure.
	KernelSlabPerConn float64 `json:"kernel_slab_bytes_per_conn"`

	Samples []RSSSample `json:"rss_samples"`
}

// RSSSample is one server memory reading during the idle period.
type RSSSample struct {
	Seconds float64 `json:"t"`
	RSS     int64   `json:"rss_bytes"`
}

// WriteTable writes the report as a table.
func (r *IdleReport) WriteTable(w io.Writer) error {
	t := report.Table{Title: fmt.Sprintf("herald bench idle — %d connections, %s", r.Conns, serverLabel(r.Server)), Header: []string{"measure", "value"}}
	verdict := "meets the 2 KB target"
	if !r.MeetsTarget {
		verdict = "over the 2 KB target"
	}
	t.AddRow("server RSS before", mib(r.RSSBefore))
	t.AddRow("server RSS after (end / min)", mib(r.RSSAfter)+" / "+mib(r.RSSAfterMin))
	t.AddRow("RSS per connection (end)", fmt.Sprintf("%.2f KB  (%s)", r.BytesPerConn/1024, verdict))
	t.AddRow("RSS per connection (min)", fmt.Sprintf("%.2f KB", r.BytesPerConnMin/1024))
	t.AddRow("server CPU while idle", fmt.Sprintf("%.2f%% of a core (%.1f ms/s) over %.0fs", r.CPUPercent, r.CPUMsPerSec, r.IdleSeconds))
	t.AddRow("heartbeats answered", r.Pings)
	t.AddRow("connect", fmt.Sprintf("%.1fs (%.0f/s)", r.ConnectSeconds, r.ConnectRate))
	t.AddRow("kernel slab per connection (system-wide)", fmt.Sprintf("%.2f KB", r.KernelSlabPerConn/1024))
	t.AddRow("connections closed while idle", r.Closed)
	return t.Write(w)
}

// Chart returns the server's memory over the idle period.
func (r *IdleReport) Chart() *report.Chart {
	s := report.Series{Name: "server RSS (MiB)"}
	for _, p := range r.Samples {
		s.Points = append(s.Points, report.Point{X: p.Seconds, Y: float64(p.RSS) / (1 << 20)})
	}
	return &report.Chart{
		Title:  fmt.Sprintf("herald bench idle: %d connections", r.Conns),
		XLabel: "seconds idle", YLabel: "server RSS (MiB)",
		Series: []report.Series{s},
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func serverLabel(s ServerInfo) string {
	name := "herald"
	if s.Baseline {
		name = "bare broadcast baseline"
	}
	var out string
	switch {
	case s.Nodes > 1 && s.Child && s.Pinned:
		out = fmt.Sprintf("%d herald nodes, children pinned to one core", s.Nodes)
	case s.Nodes > 1 && s.Child:
		out = fmt.Sprintf("%d herald nodes, children (not pinned)", s.Nodes)
	case s.Nodes > 1:
		out = fmt.Sprintf("%d herald nodes at %s and others", s.Nodes, s.URL)
	case s.Child && s.Pinned:
		out = name + " child pinned to one core"
	case s.Child:
		out = name + " child (not pinned)"
	default:
		out = name + " at " + s.URL
	}
	if s.Broker != "" {
		out += ", on " + s.Broker
	}
	return out
}

// pinningLabel says which cores the server and the load generator ran on.
func pinningLabel(s ServerInfo) string {
	cores := func(c string) string {
		switch {
		case c == "":
			return "cores unknown"
		case strings.ContainsAny(c, ",-"):
			return "cores " + c
		default:
			return "core " + c
		}
	}
	srv := "server"
	if s.Nodes > 1 {
		srv = fmt.Sprintf("all %d nodes", s.Nodes)
	}
	out := srv + " on " + cores(s.ServerCPUs) + ", load generator on " + cores(s.LoadCPUs)
	if s.Broker != "" {
		out += ", broker not pinned by the bench"
	}
	return out
}
