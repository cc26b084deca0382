package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/bench/loadgen"
	"github.com/heraldrt/herald/bench/target"
)

// MaxConnsPerProcess is the most connections one server or load-generator
// process can hold here: the open-files limit is 20,000 per process and
// cannot be raised, and each process needs a few hundred files besides.
const MaxConnsPerProcess = 19000

// Options say which server a scenario runs against and how the load
// generator runs. The zero value of each optional field is its
// documented default.
type Options struct {
	// ServerURL is the /ws endpoint of a running server. Empty starts a
	// child with ServerCommand.
	ServerURL string
	// ServerPID is the running server's process id, for memory and CPU
	// readings. Zero means they are not taken (idle then fails).
	ServerPID int
	// Secret is the running server's HS256 key. A child gets a random one.
	Secret []byte

	// ServerCommand starts the child server; see target.ChildConfig for
	// its placeholders. Required when ServerURL is empty.
	ServerCommand []string
	// ServerCPU is the core the child is pinned to. Negative: not pinned.
	ServerCPU int
	// Baseline says that the child is the bare broadcast server, for the
	// report.
	Baseline bool

	// Pollers is the load generator's event-loop count. Zero means 1.
	Pollers int
	// Progress shows progress. Nil shows none.
	Progress Progress
	// Logger receives warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// Env is a server under test and a load generator, ready to run a
// scenario. Create one with Setup and Close it when done.
type Env struct {
	Server *target.Server
	Load   *loadgen.Engine

	opts Options
	log  *slog.Logger
	prog Progress
}

// Setup starts (or attaches to) the server and starts the load generator.
func Setup(ctx context.Context, opts Options) (*Env, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Progress == nil {
		opts.Progress = NoProgress{}
	}
	var (
		srv *target.Server
		err error
	)
	if opts.ServerURL != "" {
		srv, err = target.Attach(opts.ServerURL, opts.ServerPID, opts.Secret)
	} else {
		if len(opts.ServerCommand) == 0 {
			return nil, errors.New("bench: no server command and no server url")
		}
		srv, err = target.Start(ctx, target.ChildConfig{Command: opts.ServerCommand, CPU: opts.ServerCPU})
	}
	if err != nil {
		return nil, err
	}
	load, err := loadgen.NewEngine(loadgen.Config{URL: srv.URL, Pollers: opts.Pollers})
	if err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return &Env{Server: srv, Load: load, opts: opts, log: opts.Logger, prog: opts.Progress}, nil
}

// Close stops the load generator and, if it started it, the server.
func (e *Env) Close() error {
	e.Load.Close()
	return e.Server.Stop()
}

// Token mints a token for sub granting channels, valid for a day so that
// no token_expiring frame lands in a run.
func (e *Env) Token(sub string, channels ...string) (string, error) {
	return auth.Mint(e.Server.Secret, sub, channels, 24*time.Hour, time.Now())
}

// ServerSample reads the server process's memory and CPU time.
func (e *Env) ServerSample() (target.Sample, error) {
	if e.Server.PID == 0 {
		return target.Sample{}, errors.New("bench: the server's process id is unknown (--server-pid)")
	}
	return target.Read(e.Server.PID)
}

// selfSample reads the load generator's own CPU time.
func selfSample() (target.Sample, error) { return target.Read(os.Getpid()) }

// serverGone returns an error if a child server has exited.
func (e *Env) serverGone() error {
	select {
	case <-e.Server.Exited():
		return fmt.Errorf("bench: the server exited during the run:\n%s", e.Server.LogTail(20))
	default:
		return nil
	}
}

// sleep waits for d, failing early if ctx ends or the server exits.
func (e *Env) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.Server.Exited():
		return e.serverGone()
	}
}

// ServerInfo describes the server of a run in reports.
type ServerInfo struct {
	URL      string `json:"url"`
	PID      int    `json:"pid,omitempty"`
	Child    bool   `json:"child"`
	Pinned   bool   `json:"pinned"`
	Baseline bool   `json:"baseline"`
}

func (e *Env) serverInfo() ServerInfo {
	return ServerInfo{URL: e.Server.URL, PID: e.Server.PID, Child: e.opts.ServerURL == "", Pinned: e.Server.Pinned, Baseline: e.opts.Baseline}
}
