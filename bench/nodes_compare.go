package bench

import (
	"fmt"
	"io"
	"net/url"

	"github.com/heraldrt/herald/bench/report"
)

// ClusterTargetRatio is BENCH.md's target for a cluster: 2 nodes on Redis
// reach at least half of one node's fan-out rate.
const ClusterTargetRatio = 0.5

// NodesComparison sets a run on several nodes beside a run on one node
// of the same broker, made by the same invocation, so that the ratio
// BENCH.md asks for comes from one run of the machine.
type NodesComparison struct {
	// Scenario is "fanout-nodes" or "chat-nodes".
	Scenario string     `json:"scenario"`
	Broker   string     `json:"broker"`
	Nodes    int        `json:"nodes"`
	Single   RampReport `json:"single"`
	Cluster  RampReport `json:"cluster"`
	// SaturationRatio is the cluster's saturation rate over the single
	// node's; SteadyRatio the same for the steady runs' deliveries/s
	// (the measure that counts when a fixed rate replaced the ramp).
	SaturationRatio float64 `json:"saturation_ratio"`
	SteadyRatio     float64 `json:"steady_delivered_ratio"`
	// CPURatio is the single node's CPU per delivery over the cluster's
	// (all nodes), at the highest ramp step both kept up with (same
	// publish rate): the share of one node's efficiency the cluster
	// keeps. CPUStep is that step, or -1.
	CPURatio float64 `json:"cpu_efficiency_ratio"`
	CPUStep  int     `json:"cpu_ratio_step"`
	// P99Ratio and AckP99Ratio are the cluster's steady-run p99
	// publish→deliver and publish→ack over the single node's.
	P99Ratio    float64 `json:"steady_p99_ratio"`
	AckP99Ratio float64 `json:"steady_ack_p99_ratio"`
	// TargetRatio is BENCH.md's target for SaturationRatio, where it sets
	// one (fan-out on Redis); MeetsTarget is then set.
	TargetRatio float64 `json:"target_ratio,omitempty"`
	MeetsTarget *bool   `json:"meets_target,omitempty"`
}

// CompareNodes builds the comparison of a cluster's run with a single
// node's, both of the same scenario.
func CompareNodes(single, cluster RampReport) *NodesComparison {
	name := "chat"
	if _, ok := single.(*FanoutReport); ok {
		name = "fanout"
	}
	s, c := single.Ramped(), cluster.Ramped()
	n := &NodesComparison{
		Scenario: name + "-nodes", Broker: cluster.Info().Broker, Nodes: cluster.Info().Nodes,
		Single: single, Cluster: cluster, CPUStep: -1,
	}
	ratio := func(a, b float64) float64 {
		if b <= 0 {
			return 0
		}
		return a / b
	}
	n.SaturationRatio = ratio(c.Saturation.DeliveredPerSec, s.Saturation.DeliveredPerSec)
	n.SteadyRatio = ratio(c.Steady.DeliveredPerSec, s.Steady.DeliveredPerSec)
	n.P99Ratio = ratio(c.Steady.Latency.P99Ms, s.Steady.Latency.P99Ms)
	n.AckP99Ratio = ratio(c.Steady.AckLatency.P99Ms, s.Steady.AckLatency.P99Ms)
	for i := 0; i < len(s.Steps) && i < len(c.Steps); i++ {
		a, b := s.Steps[i], c.Steps[i]
		if a.KeptUp && b.KeptUp && b.ServerCPUMicrosPerDelivery > 0 {
			n.CPURatio = a.ServerCPUMicrosPerDelivery / b.ServerCPUMicrosPerDelivery
			n.CPUStep = i
		}
	}
	if u, err := url.Parse(n.Broker); err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") && name == "fanout" && len(s.Steps) > 0 {
		n.TargetRatio = ClusterTargetRatio
		ok := n.SaturationRatio >= n.TargetRatio
		n.MeetsTarget = &ok
	}
	return n
}

// WriteTable writes both reports and the ratios.
func (n *NodesComparison) WriteTable(w io.Writer) error {
	if err := n.Single.WriteTable(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := n.Cluster.WriteTable(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	s, c := n.Single.Ramped(), n.Cluster.Ramped()
	col := fmt.Sprintf("%d nodes", n.Nodes)
	t := report.Table{
		Title:  fmt.Sprintf("%d nodes ÷ 1 node, both on %s, same invocation", n.Nodes, n.Broker),
		Header: []string{"measure", col, "1 node", "ratio"},
	}
	if len(s.Steps) > 0 {
		sat := fmt.Sprintf("%.2f", n.SaturationRatio)
		if n.MeetsTarget != nil {
			verdict := "meets"
			if !*n.MeetsTarget {
				verdict = "misses"
			}
			sat += fmt.Sprintf(" (%s the ≥ %.2f target)", verdict, n.TargetRatio)
		}
		t.AddRow("saturation deliveries/s", f0(c.Saturation.DeliveredPerSec), f0(s.Saturation.DeliveredPerSec), sat)
	}
	if n.CPUStep >= 0 {
		a, b := s.Steps[n.CPUStep], c.Steps[n.CPUStep]
		t.AddRow(fmt.Sprintf("server µs per delivery at %.1f msg/s (all nodes)", a.PublishRate), f2(b.ServerCPUMicrosPerDelivery), f2(a.ServerCPUMicrosPerDelivery), fmt.Sprintf("%.2f (efficiency)", n.CPURatio))
	}
	t.AddRow("steady deliveries/s", f0(c.Steady.DeliveredPerSec), f0(s.Steady.DeliveredPerSec), fmt.Sprintf("%.2f", n.SteadyRatio))
	t.AddRow("steady p99 publish→deliver ms", f2(c.Steady.Latency.P99Ms), f2(s.Steady.Latency.P99Ms), fmt.Sprintf("%.2f", n.P99Ratio))
	t.AddRow("steady p99 publish→ack ms", f2(c.Steady.AckLatency.P99Ms), f2(s.Steady.AckLatency.P99Ms), fmt.Sprintf("%.2f", n.AckP99Ratio))
	return t.Write(w)
}

// Chart plots both runs' latency percentiles per step.
func (n *NodesComparison) Chart() *report.Chart {
	series := append(n.Cluster.Ramped().latencySeries(fmt.Sprintf("%d nodes ", n.Nodes)), n.Single.Ramped().latencySeries("1 node ")...)
	ch := n.Cluster.Chart()
	ch.Title = fmt.Sprintf("%s, %d nodes vs 1 node on %s", ch.Title, n.Nodes, n.Broker)
	ch.Series = series
	return ch
}
