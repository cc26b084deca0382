package bench

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/heraldrt/herald/bench/report"
)

// ReconnectTargetRatio is BENCH.md's target: clients resuming take at
// most twice the time of the same clients connecting plainly.
const ReconnectTargetRatio = 2.0

// ReconnectReport is what RunReconnect measured.
type ReconnectReport struct {
	Scenario     string     `json:"scenario"`
	Server       ServerInfo `json:"server"`
	Subscribers  int        `json:"subscribers"`
	Channels     int        `json:"channels"`
	Missed       int        `json:"missed"`
	PayloadBytes int        `json:"payload_bytes"`
	// InFlight is how many connections the load generator sets up at
	// once.
	InFlight int `json:"in_flight"`

	// FirstConnect is the cold start; PlainReconnect every client coming
	// back without lastSeq, right after all dropped; Resume every client
	// coming back with lastSeq, timed until each has every message it
	// missed; ResumeSubscribed the same storm until each is subscribed.
	FirstConnect     ConnectPhase `json:"first_connect"`
	PlainReconnect   ConnectPhase `json:"plain_reconnect"`
	Resume           ConnectPhase `json:"resume"`
	ResumeSubscribed ConnectPhase `json:"resume_subscribed"`
	// Ratio is Resume.Seconds over PlainReconnect.Seconds; MeetsTarget
	// tells whether it is within TargetRatio.
	Ratio       float64 `json:"ratio"`
	TargetRatio float64 `json:"target_ratio"`
	MeetsTarget bool    `json:"meets_target"`

	// PublishSeconds is how long publishing the missed messages took,
	// acks included; PublishAck their publish→ack latency.
	PublishSeconds float64        `json:"publish_seconds"`
	PublishAck     report.Latency `json:"publish_ack"`
	// DropSeconds is the longest a node took to let go of every dropped
	// connection; DropWait says why it is unknown.
	DropSeconds float64 `json:"drop_seconds"`
	DropWait    string  `json:"drop_wait,omitempty"`

	// ReplayExpected is how many messages the clients missed, all
	// together; Received how many message frames they got while
	// resuming, ReplayPerSec per second of the recovery.
	ReplayExpected uint64  `json:"replay_expected"`
	Received       uint64  `json:"received"`
	ReplayPerSec   float64 `json:"replay_per_second"`
	// ServerReplayed and ServerResumes are the nodes' own counts over the
	// resume (herald_replayed_messages_total, herald_resumes_total), when
	// they export them.
	ServerReplayed *uint64 `json:"server_replayed,omitempty"`
	ServerResumes  *uint64 `json:"server_resumes,omitempty"`

	// Lost, Duplicated, NotRecovered (snapshot_required instead of a
	// replay) and Closed must all be 0.
	Lost         uint64         `json:"lost"`
	Duplicated   uint64         `json:"duplicated"`
	NotRecovered int            `json:"not_recovered"`
	Closed       int            `json:"closed"`
	CloseCodes   map[string]int `json:"close_codes,omitempty"`
}

// ConnectPhase times one storm of connections.
type ConnectPhase struct {
	// Seconds is the time until the last client was done; PerSecond the
	// clients done per second of it.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Client is the distribution of each client's time from the start of
	// the storm until it was done.
	Client report.Latency `json:"client"`
	// ServerCPUSeconds (every node's) and LoadCPUSeconds are the CPU time
	// the storm used.
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	LoadCPUSeconds   float64 `json:"load_cpu_seconds"`

	// curve is the share of clients done over time, for the chart.
	curve []report.Point
}

// curvePoints is how many points a storm's curve keeps.
const curvePoints = 200

func newConnectPhase(total time.Duration, times []time.Duration) ConnectPhase {
	p := ConnectPhase{Seconds: total.Seconds()}
	if total > 0 {
		p.PerSecond = float64(len(times)) / total.Seconds()
	}
	var h report.Histogram
	for _, t := range times {
		h.RecordDuration(t)
	}
	p.Client = report.Summarize(&h)
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	step := max(1, len(sorted)/curvePoints)
	for i := step - 1; i < len(sorted); i += step {
		p.curve = append(p.curve, report.Point{X: ms(sorted[i]), Y: 100 * float64(i+1) / float64(len(sorted))})
	}
	if n := len(sorted); n > 0 && (len(p.curve) == 0 || p.curve[len(p.curve)-1].Y < 100) {
		p.curve = append(p.curve, report.Point{X: ms(sorted[n-1]), Y: 100})
	}
	return p
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteTable writes the report as a table.
func (r *ReconnectReport) WriteTable(w io.Writer) error {
	t := report.Table{
		Title: fmt.Sprintf("herald bench reconnect — %d subscribers on %d channels, %d messages missed (%d-byte payloads), %d connecting at once, %s",
			r.Subscribers, r.Channels, r.Missed, r.PayloadBytes, r.InFlight, serverLabel(r.Server)),
		Header: []string{"storm", "total s", "clients/s", "p50 ms", "p99 ms", "p99.9 ms", "srv CPU s", "load CPU s"},
	}
	cpu := func(sec, of float64) string {
		if of <= 0 {
			return f2(sec)
		}
		return fmt.Sprintf("%.2f (%.0f%%)", sec, 100*sec/of)
	}
	row := func(name string, p ConnectPhase) {
		t.AddRow(name, fmt.Sprintf("%.3f", p.Seconds), f0(p.PerSecond), f1(p.Client.P50Ms), f1(p.Client.P99Ms), f1(p.Client.P999Ms),
			cpu(p.ServerCPUSeconds, p.Seconds), cpu(p.LoadCPUSeconds, p.Seconds))
	}
	row("first connect (cold)", r.FirstConnect)
	row("plain reconnect", r.PlainReconnect)
	row("resume: subscribed", r.ResumeSubscribed)
	row("resume: every missed message in", r.Resume)
	if err := t.Write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	verdict := fmt.Sprintf("within the %.0f× target", r.TargetRatio)
	if !r.MeetsTarget {
		verdict = fmt.Sprintf("over the %.0f× target", r.TargetRatio)
	}
	s := report.Table{Header: []string{"measure", "value"}}
	s.AddRow("resume ÷ plain reconnect", fmt.Sprintf("%.2f (%s)", r.Ratio, verdict))
	s.AddRow("client times", "from the start of the storm, queueing behind the connections in flight included")
	s.AddRow("pinning", pinningLabel(r.Server))
	s.AddRow("missed per subscriber", fmt.Sprintf("%.1f (%d in all)", float64(r.ReplayExpected)/float64(max(r.Subscribers, 1)), r.ReplayExpected))
	s.AddRow("replayed frames received", fmt.Sprintf("%d, %.0f/s over the recovery", r.Received, r.ReplayPerSec))
	if r.ServerReplayed != nil {
		s.AddRow("server: replayed / resumes", fmt.Sprintf("%d / %d", *r.ServerReplayed, *r.ServerResumes))
	}
	s.AddRow("publishing the missed messages", fmt.Sprintf("%.2fs, ack p50 / p99 %.2f / %.2f ms", r.PublishSeconds, r.PublishAck.P50Ms, r.PublishAck.P99Ms))
	drop := fmt.Sprintf("%.2fs", r.DropSeconds)
	if r.DropWait != "" {
		drop = r.DropWait
	}
	s.AddRow("server letting go of dropped clients", drop)
	s.AddRow("lost / duplicated / not recovered / closed", fmt.Sprintf("%d / %d / %d / %d", r.Lost, r.Duplicated, r.NotRecovered, r.Closed))
	return s.Write(w)
}

// Chart returns, for each storm, the share of clients done over time.
func (r *ReconnectReport) Chart() *report.Chart {
	return &report.Chart{
		Title:  fmt.Sprintf("herald bench reconnect: %d clients, %d messages missed", r.Subscribers, r.Missed),
		XLabel: "time since the storm began (ms)", YLabel: "clients done (%)",
		Series: []report.Series{
			{Name: "first connect (subscribed)", Points: r.FirstConnect.curve},
			{Name: "plain reconnect (subscribed)", Points: r.PlainReconnect.curve},
			{Name: "resume (every missed message in)", Points: r.Resume.curve},
		},
	}
}
