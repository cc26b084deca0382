package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
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
	// NodeURLs are the /ws endpoints of the running server's other nodes,
	// when it is a cluster: clients are spread over ServerURL and these.
	// Their memory and CPU are not read.
	NodeURLs []string

	// ServerCommand starts the child server; see target.ChildConfig for
	// its placeholders. Required when ServerURL is empty.
	ServerCommand []string
	// ServerCPU is the core the child is pinned to. Negative: not pinned.
	ServerCPU int
	// Nodes is how many children to start with ServerCommand, all pinned
	// to ServerCPU and sharing one key; clients are spread over them (see
	// Env.NodeURL). Zero means 1. ServerCommand must then make the nodes
	// one cluster (a shared broker and key prefix).
	Nodes int
	// Broker names the broker the nodes share, for reports only. Empty
	// means each node's own embedded log.
	Broker string
	// Baseline says that the child is the bare broadcast server, for the
	// report.
	Baseline bool

	// Pollers is the load generator's event-loop count. Zero means 1.
	Pollers int
	// InFlight bounds the connections being set up at once (dialed, not
	// yet subscribed). Zero means 256.
	InFlight int
	// Progress shows progress. Nil shows none.
	Progress Progress
	// Logger receives warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// Env is a server under test (one node or several) and a load generator,
// ready to run a scenario. Create one with Setup and Close it when done.
type Env struct {
	// Server is the first node; Servers holds every node, Server first.
	Server  *target.Server
	Servers []*target.Server
	Load    *loadgen.Engine

	opts Options
	log  *slog.Logger
	prog Progress
	// exited is closed when any node's process ends; stop ends the
	// goroutines that watch them.
	exited   chan struct{}
	exitOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	watchers sync.WaitGroup
}

// Setup starts (or attaches to) the server and starts the load generator.
func Setup(ctx context.Context, opts Options) (*Env, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Progress == nil {
		opts.Progress = NoProgress{}
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	e := &Env{opts: opts, log: opts.Logger, prog: opts.Progress, exited: make(chan struct{}), stop: make(chan struct{})}
	if opts.ServerURL != "" {
		if opts.Nodes > 1 {
			return nil, errors.New("bench: nodes to start and a server url to attach to")
		}
		for i, u := range append([]string{opts.ServerURL}, opts.NodeURLs...) {
			pid := 0
			if i == 0 {
				pid = opts.ServerPID
			}
			srv, err := target.Attach(u, pid, opts.Secret)
			if err != nil {
				return nil, err
			}
			e.Servers = append(e.Servers, srv)
		}
	} else {
		if len(opts.ServerCommand) == 0 {
			return nil, errors.New("bench: no server command and no server url")
		}
		var secret []byte // the first node's random key, shared by the others
		for i := range opts.Nodes {
			srv, err := target.Start(ctx, target.ChildConfig{Command: opts.ServerCommand, CPU: opts.ServerCPU, Secret: secret})
			if err != nil {
				e.stopServers()
				if opts.Nodes > 1 {
					err = fmt.Errorf("bench: node %d of %d: %w", i+1, opts.Nodes, err)
				}
				return nil, err
			}
			secret = srv.Secret
			e.Servers = append(e.Servers, srv)
		}
	}
	e.Server = e.Servers[0]
	load, err := loadgen.NewEngine(loadgen.Config{URL: e.Server.URL, Pollers: opts.Pollers, InFlight: opts.InFlight})
	if err != nil {
		e.stopServers()
		return nil, err
	}
	e.Load = load
	for _, s := range e.Servers {
		e.watchers.Add(1)
		go func() {
			defer e.watchers.Done()
			select {
			case <-s.Exited():
				e.exitOnce.Do(func() { close(e.exited) })
			case <-e.stop:
			}
		}()
	}
	return e, nil
}

// Close stops the load generator and the nodes it started.
func (e *Env) Close() error {
	e.Load.Close()
	e.stopOnce.Do(func() { close(e.stop) })
	e.watchers.Wait()
	return e.stopServers()
}

func (e *Env) stopServers() error {
	var errs []error
	for _, s := range e.Servers {
		errs = append(errs, s.Stop())
	}
	return errors.Join(errs...)
}

// Nodes returns how many nodes the server under test has.
func (e *Env) Nodes() int { return len(e.Servers) }

// NodeURL returns the WebSocket URL of the node client i connects to:
// clients are spread round-robin over the nodes.
func (e *Env) NodeURL(i int) string { return e.Servers[i%len(e.Servers)].URL }

// Token mints a token for sub granting channels, valid for a day so that
// no token_expiring frame lands in a run.
func (e *Env) Token(sub string, channels ...string) (string, error) {
	return auth.Mint(e.Server.Secret, sub, channels, 24*time.Hour, time.Now())
}

// ServerSample reads the server's memory and CPU time: with several
// nodes, their sums.
func (e *Env) ServerSample() (target.Sample, error) {
	var sum target.Sample
	for _, s := range e.Servers {
		if s.PID == 0 {
			return target.Sample{}, errors.New("bench: the server's process id is unknown (--server-pid)")
		}
		x, err := target.Read(s.PID)
		if err != nil {
			return target.Sample{}, err
		}
		sum.At, sum.RSS, sum.CPU = x.At, sum.RSS+x.RSS, sum.CPU+x.CPU
	}
	return sum, nil
}

// selfSample reads the load generator's own CPU time.
func selfSample() (target.Sample, error) { return target.Read(os.Getpid()) }

// Exited is closed when a node's process ends (never for an attached
// server).
func (e *Env) Exited() <-chan struct{} { return e.exited }

// serverGone returns an error if a node has exited.
func (e *Env) serverGone() error {
	select {
	case <-e.exited:
	default:
		return nil
	}
	for i, s := range e.Servers {
		select {
		case <-s.Exited():
			name := "the server"
			if len(e.Servers) > 1 {
				name = fmt.Sprintf("node %d", i+1)
			}
			return fmt.Errorf("bench: %s exited during the run:\n%s", name, s.LogTail(20))
		default:
		}
	}
	return errors.New("bench: a node exited during the run")
}

// sleep waits for d, failing early if ctx ends or a node exits.
func (e *Env) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.exited:
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
	// Nodes counts the server's nodes; URLs lists them when there are
	// several. Broker is the broker they share ("" for the embedded log).
	Nodes  int      `json:"nodes"`
	URLs   []string `json:"urls,omitempty"`
	Broker string   `json:"broker,omitempty"`
	// ServerCPUs and LoadCPUs are the cores the nodes and the load
	// generator may run on, as the kernel had them at the start of the
	// run ("0", "1", "0-1"; "" when unknown). The broker's server is not
	// started by the bench and is not pinned by it.
	ServerCPUs string `json:"server_cpus,omitempty"`
	LoadCPUs   string `json:"load_cpus,omitempty"`
}

func (e *Env) serverInfo() ServerInfo {
	s := ServerInfo{
		URL: e.Server.URL, PID: e.Server.PID, Child: e.opts.ServerURL == "", Pinned: e.Server.Pinned, Baseline: e.opts.Baseline,
		Nodes: len(e.Servers), Broker: redactURL(e.opts.Broker), LoadCPUs: cpusOf(os.Getpid()),
	}
	if len(e.Servers) > 1 {
		for _, n := range e.Servers {
			s.URLs = append(s.URLs, n.URL)
		}
	}
	if e.Server.PID != 0 {
		s.ServerCPUs = cpusOf(e.Server.PID)
	}
	return s
}

// redactURL drops the password of a broker URL, for reports.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// randomID returns a run's id: channel names and publish ids start with
// it, so that runs on one server never mix.
func randomID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("bench: run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
