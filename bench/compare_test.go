package bench_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/heraldrt/herald/bench"
	"github.com/heraldrt/herald/bench/report"
)

func TestCompare(t *testing.T) {
	step := func(i int, rate, usPerDelivery float64, ok bool) bench.RampStep {
		return bench.RampStep{Index: i, PublishRate: rate, ServerCPUMicrosPerDelivery: usPerDelivery, KeptUp: ok,
			Latency: report.Latency{P50Ms: 1, P99Ms: 2, P999Ms: 3}}
	}
	herald := &bench.FanoutReport{Subscribers: 10, RampResult: bench.RampResult{
		Steps:      []bench.RampStep{step(0, 10, 8, true), step(1, 15, 7, true), step(2, 22.5, 7, false)},
		Saturation: bench.Saturation{DeliveredPerSec: 90},
		Steady:     bench.SteadyRun{Latency: report.Latency{P99Ms: 30}},
	}}
	bare := &bench.FanoutReport{Subscribers: 10, RampResult: bench.RampResult{
		Steps:      []bench.RampStep{step(0, 10, 6, true), step(1, 15, 5.6, true), step(2, 22.5, 5, true), step(3, 33, 5, false)},
		Saturation: bench.Saturation{DeliveredPerSec: 100},
		Steady:     bench.SteadyRun{Latency: report.Latency{P99Ms: 20}},
	}}
	c := bench.Compare(herald, bare)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(c.SaturationRatio, 0.9) || c.CPUStep != 1 || !near(c.CPURatio, 0.8) || !near(c.P99Ratio, 1.5) {
		t.Fatalf("ratios %+v", c)
	}
	var b bytes.Buffer
	if err := c.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "0.80 (efficiency)") {
		t.Fatalf("table:\n%s", b.String())
	}
	if err := c.Chart().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
}
