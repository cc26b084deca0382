package bench_test

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/bench"
	"github.com/heraldrt/herald/bench/report"
	"github.com/heraldrt/herald/internal/testserver"
)

// TestScenariosSpreadOverNodes runs fanout and chat on an Env of two
// "nodes" that are one in-process server under two URLs: the spreading
// of clients and publishers over nodes runs, without a shared broker.
// (Real clusters are smoke-tested in cmd/herald, against Redis.)
func TestScenariosSpreadOverNodes(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env, err := bench.Setup(context.Background(), bench.Options{ServerURL: srv.URL, ServerPID: 0, NodeURLs: []string{srv.URL + "?node=2"}, Secret: testserver.Secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close() })
	if env.Nodes() != 2 || env.NodeURL(0) != srv.URL || env.NodeURL(3) != srv.URL+"?node=2" {
		t.Fatalf("nodes %d: %s, %s", env.Nodes(), env.NodeURL(0), env.NodeURL(3))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	fan, err := bench.RunFanout(ctx, env, tinyFanout())
	if err != nil {
		t.Fatal(err)
	}
	checkFanout(t, fan)
	// 20 subscribers and one publisher per node.
	if got := srv.Hub.Stats.ConnectionsTotal.Load(); got != 22 {
		t.Fatalf("server saw %d connections, want 22", got)
	}
	if fan.Server.Nodes != 2 || len(fan.Server.URLs) != 2 {
		t.Fatalf("server info %+v", fan.Server)
	}
	chat, err := bench.RunChat(ctx, env, tinyChat())
	if err != nil {
		t.Fatal(err)
	}
	checkRamp(t, &chat.RampResult)

	// A comparison of the two runs as if one were a single node's.
	single := *chat
	single.Server.Nodes, single.Server.Broker = 1, "redis://127.0.0.1:1"
	chat.Server.Broker = single.Server.Broker
	c := bench.CompareNodes(&single, chat)
	if c.Scenario != "chat-nodes" || c.Nodes != 2 || c.SaturationRatio != 1 || c.MeetsTarget != nil {
		t.Fatalf("comparison %+v", c)
	}
	checkOutputs(t, c)
}

func TestCompareNodesTarget(t *testing.T) {
	step := func(i int, rate, us float64, ok bool) bench.RampStep {
		return bench.RampStep{Index: i, PublishRate: rate, ServerCPUMicrosPerDelivery: us, KeptUp: ok, Latency: report.Latency{P50Ms: 1, P99Ms: 2, P999Ms: 3}}
	}
	one := &bench.FanoutReport{Server: bench.ServerInfo{Nodes: 1, Broker: "redis://127.0.0.1:6379"}, RampResult: bench.RampResult{
		Steps:      []bench.RampStep{step(0, 10, 4, true), step(1, 15, 4, true), step(2, 22.5, 4, false)},
		Saturation: bench.Saturation{DeliveredPerSec: 100},
		Steady:     bench.SteadyRun{DeliveredPerSec: 50, Latency: report.Latency{P99Ms: 10}, AckLatency: report.Latency{P99Ms: 2}},
	}}
	two := &bench.FanoutReport{Server: bench.ServerInfo{Nodes: 2, Broker: "redis://127.0.0.1:6379"}, RampResult: bench.RampResult{
		Steps:      []bench.RampStep{step(0, 10, 5, true), step(1, 15, 8, false)},
		Saturation: bench.Saturation{DeliveredPerSec: 45},
		Steady:     bench.SteadyRun{DeliveredPerSec: 22.5, Latency: report.Latency{P99Ms: 15}, AckLatency: report.Latency{P99Ms: 4}},
	}}
	c := bench.CompareNodes(one, two)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if c.Scenario != "fanout-nodes" || !near(c.SaturationRatio, 0.45) || !near(c.SteadyRatio, 0.45) || c.CPUStep != 0 || !near(c.CPURatio, 0.8) ||
		!near(c.P99Ratio, 1.5) || !near(c.AckP99Ratio, 2) || c.TargetRatio != bench.ClusterTargetRatio || c.MeetsTarget == nil || *c.MeetsTarget {
		t.Fatalf("comparison %+v", c)
	}
	var b bytes.Buffer
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "0.45 (misses the ≥ 0.50 target)") || !strings.Contains(b.String(), "all 2 nodes on") {
		t.Fatalf("table:\n%s", b.String())
	}
}
