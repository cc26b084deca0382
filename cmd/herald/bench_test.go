package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The bench smoke tests run `herald bench` as the user does, on tiny
// sizes, to exercise the command line, the started `herald serve`
// children and the JSON output; they measure nothing.

// tinyRamp are the flags of a ramp of two short steps and a short steady
// run, with nothing pinned (the tests share the machine).
var tinyRamp = []string{"--no-pin", "-q", "--json", "--max-steps", "2", "--step", "300ms", "--steady", "500ms"}

// benchJSON runs `herald bench args...` and decodes its JSON report into
// v. It returns the command's stderr.
func benchJSON(t *testing.T, v any, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"bench"}, args...)...)
	// No HERALD_* setting of the environment leaks into the flags.
	cmd.Env = nil
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HERALD_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("herald bench %s: %v\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	return stderr.String()
}

// rampJSON is the part of a fanout or chat report the tests check.
type rampJSON struct {
	Scenario string `json:"scenario"`
	Server   struct {
		Nodes  int      `json:"nodes"`
		URLs   []string `json:"urls"`
		Broker string   `json:"broker"`
	} `json:"server"`
	Members    int `json:"members"`
	Saturation struct {
		DeliveredPerSec float64 `json:"delivered_per_second"`
	} `json:"saturation"`
	Steady struct {
		DeliveredPerSec float64 `json:"delivered_per_second"`
		AckLatency      struct {
			Count int `json:"count"`
		} `json:"ack_latency"`
	} `json:"steady"`
	Lost        int `json:"lost"`
	Duplicated  int `json:"duplicated"`
	ErrorFrames int `json:"error_frames"`
}

func (r *rampJSON) check(t *testing.T, scenario string, nodes int, broker string) {
	t.Helper()
	if r.Scenario != scenario || r.Server.Nodes != nodes || r.Server.Broker != broker || (nodes > 1 && len(r.Server.URLs) != nodes) {
		t.Fatalf("%s report: scenario %q, server %+v", scenario, r.Scenario, r.Server)
	}
	if r.Saturation.DeliveredPerSec <= 0 || r.Steady.DeliveredPerSec <= 0 || r.Steady.AckLatency.Count == 0 {
		t.Fatalf("%s report on %d nodes: nothing measured: %+v", scenario, nodes, r)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.ErrorFrames != 0 {
		t.Fatalf("%s report on %d nodes: lost %d, duplicated %d, error frames %d", scenario, nodes, r.Lost, r.Duplicated, r.ErrorFrames)
	}
}

func TestBenchChatAndReconnectSmoke(t *testing.T) {
	var chat rampJSON
	benchJSON(t, &chat, append([]string{"chat", "--rooms", "6", "--members", "2..4", "--start-rate", "40"}, tinyRamp...)...)
	chat.check(t, "chat", 1, "")
	if chat.Members < 12 || chat.Members > 24 {
		t.Fatalf("%d members in 6 rooms of 2 to 4", chat.Members)
	}

	var rec struct {
		Scenario string `json:"scenario"`
		Resume   struct {
			Seconds float64 `json:"seconds"`
		} `json:"resume"`
		Ratio          float64 `json:"ratio"`
		ReplayExpected int     `json:"replay_expected"`
		Received       int     `json:"received"`
		Lost           int     `json:"lost"`
		Duplicated     int     `json:"duplicated"`
		NotRecovered   int     `json:"not_recovered"`
	}
	benchJSON(t, &rec, "reconnect", "--no-pin", "-q", "--json", "--subscribers", "40", "--channels", "4", "--missed", "20", "--timeout", "20s")
	if rec.Scenario != "reconnect" || rec.Resume.Seconds <= 0 || rec.Ratio <= 0 || rec.ReplayExpected != 200 || rec.Received != 200 ||
		rec.Lost+rec.Duplicated+rec.NotRecovered != 0 {
		t.Fatalf("reconnect report %+v", rec)
	}
}

func TestBenchPresenceSmoke(t *testing.T) {
	var rep presenceJSON
	// The child gets --presence-interval: at 100ms, a second's window
	// holds about 10 diffs per member, and 500ms would allow only 4.
	benchJSON(t, &rep, append([]string{"presence", "--no-pin", "-q", "--json"}, tinyPresence...)...)
	rep.check(t, 1)
}

// tinyPresence are the flags of a presence run of 40 members for a
// second.
var tinyPresence = []string{"--members", "40", "--churn", "20", "--away", "300ms", "--duration", "1s", "--presence-interval", "100ms"}

// presenceJSON is the part of a presence report the tests check.
type presenceJSON struct {
	Scenario string `json:"scenario"`
	Server   struct {
		Nodes int `json:"nodes"`
	} `json:"server"`
	Members            int     `json:"members"`
	PresenceIntervalMs float64 `json:"presence_interval_ms"`
	Seconds            float64 `json:"seconds"`
	Joins              int     `json:"joins"`
	StateFrames        int     `json:"state_frames"`
	DiffFrames         int     `json:"diff_frames"`
	DiffBound          int     `json:"diff_bound"`
	NaiveRatio         float64 `json:"naive_ratio"`
	ServerCPUPercent   float64 `json:"server_cpu_percent"`
	Unanswered         int     `json:"unanswered"`
}

// check checks a report of a tinyPresence run on nodes nodes.
func (rep *presenceJSON) check(t *testing.T, nodes int) {
	t.Helper()
	if rep.Scenario != "presence" || rep.Server.Nodes != nodes || rep.Members != 40 || rep.PresenceIntervalMs != 100 || rep.Seconds < 0.9 || rep.Unanswered != 0 {
		t.Fatalf("presence report %+v", rep)
	}
	if rep.Joins < 15 || rep.StateFrames < rep.Joins-5 || rep.DiffFrames > rep.DiffBound || rep.DiffFrames < 40*5 || rep.NaiveRatio <= 1 || rep.ServerCPUPercent <= 0 {
		t.Fatalf("presence report %+v", rep)
	}
}

func TestBenchRefusesClusterFlagsThatCannotRun(t *testing.T) {
	for _, args := range [][]string{
		{"fanout", "--nodes", "2"},
		{"chat", "--nodes", "4", "--broker", "redis://127.0.0.1:1"},
		{"chat", "--compare-nodes", "--broker", "redis://127.0.0.1:1"},
		{"fanout", "--compare", "--nodes", "2", "--broker", "redis://127.0.0.1:1"},
		{"chat", "--broker", "http://127.0.0.1:1"},
		{"chat", "--members", "5..2"},
		{"presence", "--nodes", "2"},
		{"presence", "--members", "20000"},
		{"presence", "--churn", "0"},
		{"presence", "--broker", "redis://127.0.0.1:1", "--server-url", "ws://127.0.0.1:1/ws"},
	} {
		// A refusal is immediate; the timeout stops a run that was not
		// refused.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, binary, append(append([]string{"bench"}, args...), "--no-pin", "-q")...).CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut {
			t.Errorf("herald bench %s was not refused (%v):\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestBenchClusterSmoke runs fanout, chat and presence on 2 or 3 nodes
// sharing a broker server that the test starts on a free port (never the
// shared one).
func TestBenchClusterSmoke(t *testing.T) {
	for _, b := range clusterBrokers {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.start(t)
			var cmp struct {
				Scenario        string   `json:"scenario"`
				Nodes           int      `json:"nodes"`
				SaturationRatio float64  `json:"saturation_ratio"`
				Single          rampJSON `json:"single"`
				Cluster         rampJSON `json:"cluster"`
			}
			benchJSON(t, &cmp, append([]string{"fanout", "--subscribers", "20", "--start-rate", "20", "--nodes", "2", "--broker", url, "--compare-nodes"}, tinyRamp...)...)
			if cmp.Scenario != "fanout-nodes" || cmp.Nodes != 2 || cmp.SaturationRatio <= 0 {
				t.Fatalf("comparison %+v", cmp)
			}
			cmp.Single.check(t, "fanout", 1, url)
			cmp.Cluster.check(t, "fanout", 2, url)

			var chat rampJSON
			benchJSON(t, &chat, append([]string{"chat", "--rooms", "6", "--members", "2..4", "--start-rate", "40", "--nodes", "3", "--broker", url}, tinyRamp...)...)
			chat.check(t, "chat", 3, url)

			var pres presenceJSON
			benchJSON(t, &pres, append([]string{"presence", "--no-pin", "-q", "--json", "--nodes", "2", "--broker", url}, tinyPresence...)...)
			pres.check(t, 2)
		})
	}
}
