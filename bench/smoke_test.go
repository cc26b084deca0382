package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/bench"
	"github.com/heraldrt/herald/bench/bare"
	"github.com/heraldrt/herald/bench/report"
	"github.com/heraldrt/herald/internal/testserver"
)

// noLeaks checks, when the test is over (after the server's own cleanup),
// that no goroutine started by the test is left; TestMain checks the
// package as a whole.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, append(testserver.LeakOptions(), ignore)...) })
}

// setup returns an Env on an in-process node; the "server process" whose
// memory is read is the test itself.
func setup(t *testing.T, url string) *bench.Env {
	t.Helper()
	env, err := bench.Setup(context.Background(), bench.Options{ServerURL: url, ServerPID: os.Getpid(), Secret: testserver.Secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	return env
}

func TestIdleSmoke(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := bench.RunIdle(ctx, env, bench.IdleConfig{Conns: 50, Idle: time.Second, Settle: 50 * time.Millisecond, Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Conns != 50 || rep.RSSBefore <= 0 || rep.RSSAfter <= 0 || rep.IdleSeconds < 0.9 || rep.ConnectRate <= 0 || len(rep.Samples) < 2 {
		t.Fatalf("implausible report %+v", rep)
	}
	if rep.Closed != 0 || rep.Messages != 0 || rep.CPUPercent < 0 {
		t.Fatalf("closed %d, messages %d, cpu %v", rep.Closed, rep.Messages, rep.CPUPercent)
	}
	if got := srv.Hub.Stats.ConnectionsTotal.Load(); got != 50 {
		t.Fatalf("server saw %d connections, want 50", got)
	}
	checkOutputs(t, rep)
}

func TestIdleRefusesTooManyConns(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	if _, err := bench.RunIdle(context.Background(), env, bench.IdleConfig{Conns: bench.MaxConnsPerProcess + 1}); err == nil {
		t.Fatal("RunIdle accepted more connections than a process can hold")
	}
}

func tinyFanout() bench.FanoutConfig {
	return bench.FanoutConfig{Subscribers: 20, RampConfig: tinyRamp(20)}
}

// tinyRamp is a ramp of two short steps from startRate, then a short
// steady run.
func tinyRamp(startRate float64) bench.RampConfig {
	return bench.RampConfig{
		StartRate: startRate, MaxSteps: 2, StepDuration: 300 * time.Millisecond,
		SteadyDuration: 500 * time.Millisecond, DrainTimeout: 5 * time.Second,
	}
}

func checkFanout(t *testing.T, rep *bench.FanoutReport) {
	t.Helper()
	checkRamp(t, &rep.RampResult)
	if rep.FrameBytes < float64(rep.PayloadBytes) {
		t.Fatalf("frames of %v bytes for %d-byte payloads", rep.FrameBytes, rep.PayloadBytes)
	}
	checkOutputs(t, rep)
}

// checkRamp checks a tiny ramp's figures: two steps that keep up, a
// steady run, nothing lost, duplicated or refused.
func checkRamp(t *testing.T, rep *bench.RampResult) {
	t.Helper()
	if len(rep.Steps) != 2 || rep.Saturation.Reached {
		t.Fatalf("steps %d, saturation %+v: two short steps should both keep up", len(rep.Steps), rep.Saturation)
	}
	for _, s := range rep.Steps {
		if !s.KeptUp || s.Published == 0 || s.DeliveredPerSec <= 0 || s.Latency.Count == 0 || s.Latency.P50Ms <= 0 || s.AckLatency.Count == 0 {
			t.Fatalf("implausible step %+v", s)
		}
	}
	st := rep.Steady
	if st.PublishRate <= 0 || st.DeliveredPerSec <= 0 || st.Latency.Count == 0 || st.Latency.P50Ms <= 0 || st.Latency.P999Ms < st.Latency.P50Ms {
		t.Fatalf("implausible steady run %+v", st)
	}
	if rep.Lost != 0 || rep.Duplicated != 0 || !rep.RampIntegrity.Drained || !rep.SteadyIntegrity.Drained || rep.SteadyIntegrity.Closed != 0 {
		t.Fatalf("integrity: lost %d dup %d ramp %+v steady %+v", rep.Lost, rep.Duplicated, rep.RampIntegrity, rep.SteadyIntegrity)
	}
	if rep.SteadyIntegrity.Received != rep.Steady.Latency.Count {
		t.Fatalf("steady: %d received, %d latencies recorded", rep.SteadyIntegrity.Received, rep.Steady.Latency.Count)
	}
	if rep.ErrorFrames != 0 {
		t.Fatalf("%d error frames, the last: %s", rep.ErrorFrames, rep.LastError)
	}
}

func TestFanoutSmoke(t *testing.T) {
	noLeaks(t)
	srv := testserver.Start(t, testserver.Options{})
	env := setup(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	rep, err := bench.RunFanout(ctx, env, tinyFanout())
	if err != nil {
		t.Fatal(err)
	}
	checkFanout(t, rep)
	if got := srv.Hub.Stats.Delivered.Load(); got < rep.RampIntegrity.Received+rep.SteadyIntegrity.Received {
		t.Fatalf("server delivered %d, clients received %d", got, rep.RampIntegrity.Received+rep.SteadyIntegrity.Received)
	}
}

func TestFanoutSmokeOnBareBaseline(t *testing.T) {
	noLeaks(t)
	srv, err := bare.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	env := setup(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	rep, err := bench.RunFanout(ctx, env, tinyFanout())
	if err != nil {
		t.Fatal(err)
	}
	checkFanout(t, rep)
	if srv.Delivered() != rep.RampIntegrity.Received+rep.SteadyIntegrity.Received {
		t.Fatalf("bare server wrote %d, clients received %d", srv.Delivered(), rep.RampIntegrity.Received+rep.SteadyIntegrity.Received)
	}
}

// reporter is what every report offers.
type reporter interface {
	WriteTable(io.Writer) error
	Chart() *report.Chart
}

// checkOutputs writes the table, the JSON and the SVG of a report.
func checkOutputs(t *testing.T, rep reporter) {
	t.Helper()
	var tb, js, svg bytes.Buffer
	if err := rep.WriteTable(&tb); err != nil || tb.Len() == 0 {
		t.Fatalf("table: %v", err)
	}
	if err := json.NewEncoder(&js).Encode(rep); err != nil || !json.Valid(js.Bytes()) {
		t.Fatalf("json: %v", err)
	}
	if err := rep.Chart().WriteSVG(&svg); err != nil || !bytes.Contains(svg.Bytes(), []byte("<polyline")) {
		t.Fatalf("svg: %v\n%s", err, svg.Bytes())
	}
	t.Logf("\n%s", tb.Bytes())
}
