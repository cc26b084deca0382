package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/heraldrt/herald/bench"
	"github.com/heraldrt/herald/bench/bare"
	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/bench/report"
)

// benchCmd groups the scenarios of BENCH.md. Each starts its own server
// pinned to one core (or measures --server-url) and prints a table, or
// JSON with --json.
type benchCmd struct {
	Idle       benchIdleCmd   `cmd:"" help:"N authenticated connections, each subscribed to its own channel, left idle: server memory per connection and idle CPU."`
	Fanout     benchFanoutCmd `cmd:"" help:"One channel, S subscribers, a publisher ramping its rate: deliveries/s at saturation, then latency percentiles at half of it."`
	BareServer bareServerCmd  `cmd:"" name:"bare-server" hidden:"" help:"Run the bare broadcast baseline server (used by fanout --baseline)."`
}

// benchFlags are the flags every scenario shares.
type benchFlags struct {
	ServerURL string   `name:"server-url" placeholder:"URL" help:"Measure the server at this /ws endpoint (ws://127.0.0.1:8080/ws) instead of starting one."`
	ServerPID int      `name:"server-pid" placeholder:"PID" help:"Process id of the server at --server-url, to read its memory and CPU time."`
	JWTSecret string   `name:"jwt-secret" help:"HS256 key of the server at --server-url, to mint tokens."`
	ServerArg []string `name:"server-arg" sep:"none" placeholder:"FLAG" help:"Extra flag for the started herald serve, repeatable (--server-arg=--durability=none)."`
	ServerCPU int      `name:"server-cpu" default:"0" help:"Core the started server is pinned to (taskset -c)."`
	LoadCPU   int      `name:"load-cpu" default:"1" help:"Core the load generator pins itself to."`
	NoPin     bool     `name:"no-pin" help:"Pin neither the server nor the load generator."`
	JSON      bool     `name:"json" help:"Print the report as JSON; stdout then holds nothing else."`
	Plot      string   `type:"path" placeholder:"FILE.svg" help:"Write a plot of the run as SVG."`
	Quiet     bool     `short:"q" help:"Show no progress bar."`
}

type benchIdleCmd struct {
	benchFlags `embed:""`

	Conns  int           `default:"15000" help:"Connections to open; at most 19000 (the open-files limit is 20,000 per process)."`
	Idle   time.Duration `default:"30s" help:"How long the connections stay idle while the server is watched."`
	Settle time.Duration `default:"3s" help:"Quiet time before memory readings."`
}

type benchFanoutCmd struct {
	benchFlags `embed:""`

	Subscribers    int           `default:"5000" help:"Subscribers on the channel."`
	PayloadSize    int           `default:"100" help:"Payload size in bytes."`
	StartRate      float64       `default:"10" help:"First publish rate, messages/s."`
	RampFactor     float64       `default:"1.5" help:"Rate multiplier from one step to the next."`
	Step           time.Duration `default:"3s" help:"Duration of each ramp step."`
	MaxSteps       int           `default:"20" help:"Most ramp steps."`
	LatencyLimit   time.Duration `default:"1s" help:"A step whose p99 latency is over this ends the ramp."`
	SteadyFraction float64       `default:"0.5" help:"Fraction of the saturation rate for the latency run."`
	Steady         time.Duration `default:"10s" help:"Duration of the latency run."`
	Baseline       bool          `help:"Measure the bare broadcast loop (encode once, write to all, no protocol work) instead of herald serve."`
	Compare        bool          `help:"Measure the bare broadcast loop, then herald serve, in one run, and report the ratios."`
}

type bareServerCmd struct {
	Addr string `default:"127.0.0.1:0" help:"Address to listen on."`
}

// reporter is what every scenario's report can do.
type reporter interface {
	WriteTable(io.Writer) error
	Chart() *report.Chart
}

func (c *benchIdleCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg := bench.IdleConfig{Conns: c.Conns, Idle: c.Idle, Settle: c.Settle}
	if c.Conns > bench.MaxConnsPerProcess {
		return fmt.Errorf("--conns %d: one process can hold at most %d connections here (the open-files limit is 20,000 per process); run several nodes and load generators for more", c.Conns, bench.MaxConnsPerProcess)
	}
	env, err := c.setup(ctx, false)
	if err != nil {
		return err
	}
	rep, runErr := bench.RunIdle(ctx, env, cfg)
	closeErr := env.Close()
	return c.output(rep, errors.Join(runErr, closeErr))
}

func (c *benchFanoutCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if (c.Baseline || c.Compare) && c.ServerURL != "" {
		return errors.New("--baseline and --compare start their own servers; they cannot be combined with --server-url")
	}
	if c.Compare {
		base, err := c.run(ctx, true)
		if err != nil {
			return c.output(base, err)
		}
		herald, err := c.run(ctx, false)
		if err != nil {
			return c.output(herald, err)
		}
		return c.output(bench.Compare(herald, base), nil)
	}
	rep, err := c.run(ctx, c.Baseline)
	return c.output(rep, err)
}

// run runs the fan-out scenario once, against herald serve or the bare
// baseline.
func (c *benchFanoutCmd) run(ctx context.Context, baseline bool) (*bench.FanoutReport, error) {
	cfg := bench.FanoutConfig{
		Subscribers: c.Subscribers, PayloadSize: c.PayloadSize,
		StartRate: c.StartRate, RampFactor: c.RampFactor, StepDuration: c.Step, MaxSteps: c.MaxSteps,
		LatencyLimit: c.LatencyLimit, SteadyFraction: c.SteadyFraction, SteadyDuration: c.Steady,
	}
	env, err := c.setup(ctx, baseline)
	if err != nil {
		return nil, err
	}
	rep, runErr := bench.RunFanout(ctx, env, cfg)
	return rep, errors.Join(runErr, env.Close())
}

func (c *bareServerCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	loadgen.RouteNBIOLogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	s, err := bare.Start(c.Addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bare broadcast server listening on", s.Addr())
	<-ctx.Done()
	return s.Close(context.Background())
}

// setup pins the load generator and starts (or attaches to) the server.
func (f *benchFlags) setup(ctx context.Context, baseline bool) (*bench.Env, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loadgen.RouteNBIOLogs(log)
	if !f.NoPin {
		if err := bench.PinProcess(f.LoadCPU); err != nil {
			return nil, fmt.Errorf("%w (use --no-pin on a single core)", err)
		}
	}
	opts := bench.Options{
		ServerURL: f.ServerURL, ServerPID: f.ServerPID, Secret: []byte(f.JWTSecret),
		ServerCPU: f.ServerCPU, Baseline: baseline, Logger: log,
	}
	if f.NoPin {
		opts.ServerCPU = -1
	}
	if !f.Quiet {
		opts.Progress = bench.NewBar(os.Stderr)
	}
	if f.ServerURL == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the herald binary: %w", err)
		}
		if baseline {
			opts.ServerCommand = []string{exe, "bench", "bare-server", "--addr", "{addr}"}
		} else {
			opts.ServerCommand = append([]string{exe, "serve",
				"--addr", "{addr}", "--data", "{data}", "--jwt-secret", "{secret}", "--log-level", "warn",
				// The load comes from a few loopback addresses, fast.
				"--conn-rate=-1",
			}, f.ServerArg...)
		}
	}
	return bench.Setup(ctx, opts)
}

// output prints the report, if there is one, and returns runErr.
func (f *benchFlags) output(rep reporter, runErr error) error {
	if rep == nil || isNilReport(rep) {
		return runErr
	}
	if f.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return errors.Join(runErr, err)
		}
	} else if err := rep.WriteTable(os.Stdout); err != nil {
		return errors.Join(runErr, err)
	}
	if f.Plot != "" {
		if err := writePlot(f.Plot, rep.Chart()); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

func isNilReport(r reporter) bool {
	switch r := r.(type) {
	case *bench.IdleReport:
		return r == nil
	case *bench.FanoutReport:
		return r == nil
	case *bench.FanoutComparison:
		return r == nil
	}
	return false
}

func writePlot(path string, c *report.Chart) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := c.WriteSVG(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("plot: %w", err)
	}
	return f.Close()
}
