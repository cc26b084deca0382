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
	Idle       benchIdleCmd      `cmd:"" help:"N authenticated connections, each subscribed to its own channel, left idle: server memory per connection and idle CPU."`
	Fanout     benchFanoutCmd    `cmd:"" help:"One channel, S subscribers, a publisher ramping its rate: deliveries/s at saturation, then latency percentiles at half of it."`
	Chat       benchChatCmd      `cmd:"" help:"Many small rooms, every member publishing with acks at a ramping (or fixed) total rate: deliveries/s, publish→ack and publish→deliver latency."`
	Reconnect  benchReconnectCmd `cmd:"" help:"N subscribers drop, M messages are published while they are away, all come back with lastSeq: time until every client has every missed message, against N plain reconnects."`
	Presence   benchPresenceCmd  `cmd:"" help:"One channel of N members watching presence, R of them a second leaving and rejoining: presence frames and bytes per member against one per change per member, and server CPU."`
	BareServer bareServerCmd     `cmd:"" name:"bare-server" hidden:"" help:"Run the bare broadcast baseline server (used by fanout --baseline)."`
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
	benchFlags   `embed:""`
	clusterFlags `embed:""`

	Subscribers int     `default:"5000" help:"Subscribers on the channel."`
	StartRate   float64 `default:"10" help:"First publish rate, messages/s."`
	rampFlags   `embed:""`
	Baseline    bool `help:"Measure the bare broadcast loop (encode once, write to all, no protocol work) instead of herald serve."`
	Compare     bool `help:"Measure the bare broadcast loop, then herald serve, in one run, and report the ratios."`
}

type benchChatCmd struct {
	benchFlags   `embed:""`
	clusterFlags `embed:""`

	Rooms     int         `default:"500" help:"Rooms (channels)."`
	Members   memberRange `default:"2..10" placeholder:"MIN..MAX" help:"Members per room, drawn uniformly for each room: 2..10 by default (at most 19000 members in all)."`
	Seed      uint64      `default:"1" help:"Seed of the room sizes and the publishing order."`
	StartRate float64     `default:"200" help:"First publish rate, messages/s of all members together."`
	rampFlags `embed:""`
}

type benchReconnectCmd struct {
	benchFlags `embed:""`

	Subscribers int           `default:"10000" help:"Clients that drop and come back; at most 19000 (the open-files limit is 20,000 per process)."`
	Channels    int           `default:"100" help:"Channels the subscribers are spread over (subscriber i on channel i mod N)."`
	Missed      int           `default:"1000" help:"Messages published while the subscribers are away, round-robin over the channels."`
	PayloadSize int           `default:"100" help:"Payload size in bytes."`
	InFlight    int           `default:"256" help:"Connections the load generator sets up at once (dialed, not yet subscribed)."`
	Timeout     time.Duration `default:"2m" help:"Bound on each phase (a storm, a drop, the publishing, the recovery)."`
}

type benchPresenceCmd struct {
	benchFlags `embed:""`
	nodeFlags  `embed:""`

	Members          int           `default:"5000" help:"Members of the channel, each one connection and a user of its own, subscribed with presence; at most 19000 (the open-files limit is 20,000 per process)."`
	Churn            float64       `default:"100" help:"Members leaving per second during the run, evenly spaced, each subscribing again about --away later on the same connection (unsubscribe, then subscribe: a leave and a join of its user)."`
	Away             time.Duration `default:"1s" help:"How long a member stays away on average, drawn from half to one and a half times this for each leave; 0 subscribes again right after the unsubscribe (the server may then send nothing for the pair)."`
	Duration         time.Duration `default:"20s" help:"Measured window, from the time the churn is steady (1.5 × --away after the first leave)."`
	PresenceInterval time.Duration `name:"presence-interval" default:"500ms" help:"The server's presence_interval: passed to the started nodes, and the report's bound of one presence_diff per member per interval (with --server-url, give the running server's)."`
	Seed             uint64        `default:"1" help:"Seed of the members' order of leaving."`
}

// rampFlags are the load flags of fanout and chat.
type rampFlags struct {
	PayloadSize    int           `default:"100" help:"Payload size in bytes."`
	RampFactor     float64       `default:"1.5" help:"Rate multiplier from one step to the next."`
	Step           time.Duration `default:"3s" help:"Duration of each ramp step."`
	MaxSteps       int           `default:"20" help:"Most ramp steps."`
	LatencyLimit   time.Duration `default:"1s" help:"A step whose p99 latency is over this ends the ramp."`
	SteadyFraction float64       `default:"0.5" help:"Fraction of the saturation rate for the latency run."`
	Steady         time.Duration `default:"10s" help:"Duration of the latency run."`
	Rate           float64       `placeholder:"MSG/S" help:"Skip the ramp: run the latency run at this publish rate, messages/s."`
}

func (f *rampFlags) config(startRate float64) bench.RampConfig {
	return bench.RampConfig{
		PayloadSize: f.PayloadSize, StartRate: startRate, RampFactor: f.RampFactor, StepDuration: f.Step, MaxSteps: f.MaxSteps,
		LatencyLimit: f.LatencyLimit, SteadyFraction: f.SteadyFraction, SteadyDuration: f.Steady, Rate: f.Rate,
	}
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
	env, err := c.setup(ctx, serverSpec{nodes: 1})
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
	if err := c.check(&c.benchFlags); err != nil {
		return err
	}
	if (c.Baseline || c.Compare) && c.clustered() {
		return errors.New("--baseline and --compare measure one bare server; they cannot be combined with --nodes, --broker or --compare-nodes")
	}
	if c.CompareNodes {
		return c.output(c.compareNodes(ctx, func(ctx context.Context, nodes int) (bench.RampReport, error) {
			return c.run(ctx, false, nodes)
		}))
	}
	if c.Compare {
		base, err := c.run(ctx, true, 1)
		if err != nil {
			return c.output(base, err)
		}
		herald, err := c.run(ctx, false, 1)
		if err != nil {
			return c.output(herald, err)
		}
		return c.output(bench.Compare(herald, base), nil)
	}
	rep, err := c.run(ctx, c.Baseline, c.Nodes)
	return c.output(rep, err)
}

// run runs the fan-out scenario once, against herald serve on nodes
// nodes or the bare baseline.
func (c *benchFanoutCmd) run(ctx context.Context, baseline bool, nodes int) (*bench.FanoutReport, error) {
	cfg := bench.FanoutConfig{Subscribers: c.Subscribers, RampConfig: c.config(c.StartRate)}
	env, err := c.setup(ctx, serverSpec{baseline: baseline, nodes: nodes, broker: c.Broker})
	if err != nil {
		return nil, err
	}
	rep, runErr := bench.RunFanout(ctx, env, cfg)
	return rep, errors.Join(runErr, env.Close())
}

func (c *benchChatCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := c.check(&c.benchFlags); err != nil {
		return err
	}
	if c.CompareNodes {
		return c.output(c.compareNodes(ctx, func(ctx context.Context, nodes int) (bench.RampReport, error) {
			return c.run(ctx, nodes)
		}))
	}
	rep, err := c.run(ctx, c.Nodes)
	return c.output(rep, err)
}

// run runs the chat scenario once on nodes nodes.
func (c *benchChatCmd) run(ctx context.Context, nodes int) (*bench.ChatReport, error) {
	cfg := bench.ChatConfig{
		Rooms: c.Rooms, MinMembers: c.Members.Min, MaxMembers: c.Members.Max, Seed: c.Seed,
		RampConfig: c.config(c.StartRate),
	}
	env, err := c.setup(ctx, serverSpec{nodes: nodes, broker: c.Broker})
	if err != nil {
		return nil, err
	}
	rep, runErr := bench.RunChat(ctx, env, cfg)
	return rep, errors.Join(runErr, env.Close())
}

func (c *benchReconnectCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if c.Subscribers > bench.MaxConnsPerProcess {
		return fmt.Errorf("--subscribers %d: one process can hold at most %d connections here (the open-files limit is 20,000 per process)", c.Subscribers, bench.MaxConnsPerProcess)
	}
	cfg := bench.ReconnectConfig{
		Subscribers: c.Subscribers, Channels: c.Channels, Missed: c.Missed, PayloadSize: c.PayloadSize, Timeout: c.Timeout,
	}
	env, err := c.setup(ctx, serverSpec{nodes: 1, inFlight: c.InFlight})
	if err != nil {
		return err
	}
	rep, runErr := bench.RunReconnect(ctx, env, cfg)
	return c.output(rep, errors.Join(runErr, env.Close()))
}

func (c *benchPresenceCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := c.check(&c.benchFlags); err != nil {
		return err
	}
	switch {
	case c.Members > bench.MaxConnsPerProcess:
		return fmt.Errorf("--members %d: one process can hold at most %d connections here (the open-files limit is 20,000 per process)", c.Members, bench.MaxConnsPerProcess)
	case c.Members < 1 || c.Churn <= 0 || c.Duration <= 0 || c.Away < 0 || c.PresenceInterval <= 0:
		return errors.New("--members, --churn, --duration and --presence-interval must be above 0, --away at least 0")
	}
	cfg := bench.PresenceConfig{
		Members: c.Members, Churn: c.Churn, Away: c.Away, Duration: c.Duration, PresenceInterval: c.PresenceInterval, Seed: c.Seed,
	}
	if c.Away == 0 {
		cfg.Away = -1 // at once; zero would be the default
	}
	env, err := c.setup(ctx, serverSpec{nodes: c.Nodes, broker: c.Broker, args: []string{"--presence-interval", c.PresenceInterval.String()}})
	if err != nil {
		return err
	}
	rep, runErr := bench.RunPresence(ctx, env, cfg)
	return c.output(rep, errors.Join(runErr, env.Close()))
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

// serverSpec says which server a run starts.
type serverSpec struct {
	baseline bool   // the bare broadcast server, not herald serve
	nodes    int    // herald serve nodes
	broker   string // their --broker; "" for each one's embedded log
	inFlight int    // connections set up at once; 0: the default
	// args are flags of herald serve that the scenario needs, before
	// --server-arg's.
	args []string
}

// setup pins the load generator and starts (or attaches to) the server.
func (f *benchFlags) setup(ctx context.Context, spec serverSpec) (*bench.Env, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loadgen.RouteNBIOLogs(log)
	if !f.NoPin {
		if err := bench.PinProcess(f.LoadCPU); err != nil {
			return nil, fmt.Errorf("%w (use --no-pin on a single core)", err)
		}
	}
	opts := bench.Options{
		ServerURL: f.ServerURL, ServerPID: f.ServerPID, Secret: []byte(f.JWTSecret),
		ServerCPU: f.ServerCPU, Baseline: spec.baseline, Logger: log,
		Nodes: spec.nodes, Broker: spec.broker, InFlight: spec.inFlight,
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
		if spec.baseline {
			opts.ServerCommand = []string{exe, "bench", "bare-server", "--addr", "{addr}"}
		} else {
			opts.ServerCommand = []string{exe, "serve",
				"--addr", "{addr}", "--data", "{data}", "--jwt-secret", "{secret}", "--log-level", "warn",
				// The load comes from a few loopback addresses, fast.
				"--conn-rate=-1",
			}
			if spec.broker != "" {
				// A fresh prefix per run: the nodes of this run share
				// it, and no run sees another's channels.
				prefix, err := brokerPrefix()
				if err != nil {
					return nil, err
				}
				opts.ServerCommand = append(opts.ServerCommand, "--broker", spec.broker, "--broker-prefix", prefix)
			}
			opts.ServerCommand = append(opts.ServerCommand, spec.args...)
			opts.ServerCommand = append(opts.ServerCommand, f.ServerArg...)
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
	case *bench.ChatReport:
		return r == nil
	case *bench.ReconnectReport:
		return r == nil
	case *bench.PresenceReport:
		return r == nil
	case *bench.NodesComparison:
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
