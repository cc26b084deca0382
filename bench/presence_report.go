package bench

import (
	"fmt"
	"io"

	"github.com/heraldrt/herald/bench/report"
)

// PresenceReport is what RunPresence measured. Counts of frames and
// bytes are of every member together, over the window.
type PresenceReport struct {
	Scenario string     `json:"scenario"`
	Server   ServerInfo `json:"server"`
	Members  int        `json:"members"`
	// ChurnTarget is the churn asked for, leaves per second; AwaySeconds
	// how long a member stayed away on average (each from half to one and
	// a half times that); DurationSeconds the window asked
	// for; PresenceIntervalMs the server's presence_interval as the run
	// was told it.
	ChurnTarget        float64 `json:"churn_per_second_target"`
	AwaySeconds        float64 `json:"away_seconds"`
	DurationSeconds    float64 `json:"duration_seconds"`
	PresenceIntervalMs float64 `json:"presence_interval_ms"`

	// ConnectSeconds is how long subscribing every member took;
	// FullSeconds how long until every member had heard of every other.
	ConnectSeconds float64 `json:"connect_seconds"`
	FullSeconds    float64 `json:"full_seconds"`

	// Seconds is the window's length. Leaves and Joins are the
	// unsubscribes and subscribes sent in it; ChurnEvents counts a churn
	// event (a leave and its join) per join; ChurnPerSec is per second.
	Seconds     float64 `json:"seconds"`
	Leaves      int     `json:"leaves"`
	Joins       int     `json:"joins"`
	ChurnEvents int     `json:"churn_events"`
	ChurnPerSec float64 `json:"churn_per_second"`

	// StateFrames (presence_state: one per join, to the member who
	// joined) and DiffFrames (presence_diff) are the presence frames the
	// members received in the window; Frames both; Bytes their size.
	StateFrames           uint64  `json:"state_frames"`
	DiffFrames            uint64  `json:"diff_frames"`
	Frames                uint64  `json:"frames"`
	Bytes                 uint64  `json:"bytes"`
	BytesPerFrame         float64 `json:"bytes_per_frame"`
	FramesPerMemberPerSec float64 `json:"frames_per_member_per_second"`
	DiffsPerMemberPerSec  float64 `json:"diffs_per_member_per_second"`
	BytesPerMemberPerSec  float64 `json:"bytes_per_member_per_second"`
	// Naive is ChurnEvents × Members: the frames a server that sent every
	// member one event per churn event would have sent (one per leave and
	// one per join would be twice that). NaiveRatio is Naive / Frames.
	Naive      uint64  `json:"naive_frames"`
	NaiveRatio float64 `json:"naive_ratio"`
	// DiffBound is the most presence_diff frames the window allows at one
	// per member per presence_interval; WithinBound tells whether
	// DiffFrames kept to it.
	DiffBound   uint64 `json:"diff_bound"`
	WithinBound bool   `json:"within_bound"`

	// ServerCPUPercent (every node's, in percent of one core) and
	// LoadCPUPercent are the CPU used over the window;
	// ServerCPUMicrosPerChurn is the server's CPU per churn event. Zero
	// when the server's process is unknown.
	ServerCPUPercent        float64 `json:"server_cpu_percent"`
	ServerCPUMicrosPerChurn float64 `json:"server_cpu_us_per_churn_event"`
	LoadCPUPercent          float64 `json:"load_cpu_percent"`

	// SettleSeconds is how long, after the churn, until every member
	// heard that every member is back. Unanswered counts members short of
	// an unsubscribed, a subscribed or a presence_state for what they
	// sent; Closed the members the server closed; ErrorFrames the error
	// frames received. All three must be 0.
	SettleSeconds float64 `json:"settle_seconds"`
	Unanswered    int     `json:"unanswered"`
	Closed        int     `json:"closed"`
	ErrorFrames   uint64  `json:"error_frames"`
	LastError     string  `json:"last_error,omitempty"`

	// Samples are the window's presence frames per second, every second.
	Samples []PresenceSample `json:"samples"`
}

// PresenceSample is the presence traffic of a slice of the window.
type PresenceSample struct {
	// Seconds is the slice's end, from the window's start.
	Seconds float64 `json:"t"`
	// FramesPerSec is the presence frames all members received per
	// second; ChurnPerSec the joins sent per second; NaivePerSecond
	// ChurnPerSec × members.
	FramesPerSec   float64 `json:"frames_per_second"`
	ChurnPerSec    float64 `json:"churn_per_second"`
	NaivePerSecond float64 `json:"naive_per_second"`
}

// WriteTable writes the report as a table.
func (r *PresenceReport) WriteTable(w io.Writer) error {
	away := fmt.Sprintf("away %.2g–%.2gs", r.AwaySeconds/2, 1.5*r.AwaySeconds)
	if r.AwaySeconds == 0 {
		away = "rejoining at once"
	}
	t := report.Table{
		Title: fmt.Sprintf("herald bench presence — %d members on one channel, churn %.0f/s (%s), presence_interval %.0f ms, %.1fs window, %s",
			r.Members, r.ChurnTarget, away, r.PresenceIntervalMs, r.Seconds, serverLabel(r.Server)),
		Header: []string{"measure", "value"},
	}
	perMember := 0.0
	if r.Members > 0 && r.Seconds > 0 {
		perMember = float64(r.StateFrames) / float64(r.Members) / r.Seconds
	}
	t.AddRow("members", r.Members)
	t.AddRow("churn events (leave + join) in the window", fmt.Sprintf("%d, %.1f/s (%d leaves, %d joins)", r.ChurnEvents, r.ChurnPerSec, r.Leaves, r.Joins))
	t.AddRow("presence frames received", fmt.Sprintf("%d: %d presence_diff, %d presence_state", r.Frames, r.DiffFrames, r.StateFrames))
	t.AddRow("per member per second", fmt.Sprintf("%.3f (diffs %.3f, states %.4f; at most %.1f diffs by presence_interval)", r.FramesPerMemberPerSec, r.DiffsPerMemberPerSec, perMember, 1000/max(r.PresenceIntervalMs, 1e-9)))
	t.AddRow("bytes", fmt.Sprintf("%s, %.0f per frame, %.0f per member per second", bytesLabel(r.Bytes), r.BytesPerFrame, r.BytesPerMemberPerSec))
	t.AddRow("naive (churn events × members)", r.Naive)
	t.AddRow("naive ÷ actual", fmt.Sprintf("%.1f", r.NaiveRatio))
	verdict := "within"
	if !r.WithinBound {
		verdict = "OVER"
	}
	t.AddRow("presence_diff bound (members × (window ÷ interval + 2))", fmt.Sprintf("%d (%s)", r.DiffBound, verdict))
	cpu := fmt.Sprintf("%.1f%% of a core, %.0f µs per churn event", r.ServerCPUPercent, r.ServerCPUMicrosPerChurn)
	if r.ServerCPUPercent == 0 {
		cpu = "unknown (no server process id)"
	}
	t.AddRow("server CPU", cpu)
	t.AddRow("load generator CPU", fmt.Sprintf("%.1f%% of a core", r.LoadCPUPercent))
	t.AddRow("pinning", pinningLabel(r.Server))
	t.AddRow("connect / every member heard of", fmt.Sprintf("%.2fs / %.2fs", r.ConnectSeconds, r.FullSeconds))
	t.AddRow("after the churn, every member heard of", fmt.Sprintf("%.2fs", r.SettleSeconds))
	t.AddRow("unanswered / closed / error frames", fmt.Sprintf("%d / %d / %d", r.Unanswered, r.Closed, r.ErrorFrames))
	return t.Write(w)
}

// Chart returns the presence frames per second over the window, beside
// the naive count.
func (r *PresenceReport) Chart() *report.Chart {
	got := report.Series{Name: "presence frames received/s (all members)"}
	naive := report.Series{Name: "naive: churn events/s × members"}
	for _, s := range r.Samples {
		got.Points = append(got.Points, report.Point{X: s.Seconds, Y: s.FramesPerSec})
		naive.Points = append(naive.Points, report.Point{X: s.Seconds, Y: s.NaivePerSecond})
	}
	return &report.Chart{
		Title:  fmt.Sprintf("herald bench presence: %d members, churn %.0f/s", r.Members, r.ChurnTarget),
		XLabel: "seconds into the window", YLabel: "frames per second",
		YLog: true, Series: []report.Series{got, naive},
	}
}

// bytesLabel writes a byte count in KiB or MiB.
func bytesLabel(b uint64) string {
	if b >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
}
