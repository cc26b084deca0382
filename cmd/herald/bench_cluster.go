package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/heraldrt/herald/bench"
)

// maxBenchNodes is the most nodes a bench starts: on this 2-core machine
// they all share one core, and 3 already split it thinly.
const maxBenchNodes = 3

// nodeFlags run a scenario on several nodes that share a broker.
type nodeFlags struct {
	Nodes  int    `default:"1" help:"herald serve nodes to start (1 to 3), all pinned to --server-cpu; clients (subscribers and publishers, or members) are spread round-robin over them. More than 1 needs --broker."`
	Broker string `placeholder:"URL" help:"Broker the started nodes share (redis://127.0.0.1:6379 or nats://127.0.0.1:4222), passed to each as --broker with a --broker-prefix fresh for each run."`
}

// clusterFlags run fanout and chat on several nodes that share a broker,
// or compare one node with several.
type clusterFlags struct {
	nodeFlags    `embed:""`
	CompareNodes bool `name:"compare-nodes" help:"Run on 1 node, then on --nodes nodes, both on --broker, in one invocation, and report the ratios."`
}

// clustered reports whether any cluster flag is set.
func (f *nodeFlags) clustered() bool { return f.Nodes > 1 || f.Broker != "" }

// clustered reports whether any cluster flag is set.
func (f *clusterFlags) clustered() bool { return f.nodeFlags.clustered() || f.CompareNodes }

// check refuses combinations of flags that cannot run.
func (f *nodeFlags) check(b *benchFlags) error {
	switch {
	case f.Nodes < 1 || f.Nodes > maxBenchNodes:
		return fmt.Errorf("--nodes %d: 1 to %d", f.Nodes, maxBenchNodes)
	case f.clustered() && b.ServerURL != "":
		return errors.New("--nodes and --broker start their own nodes; they cannot be combined with --server-url")
	case f.Nodes > 1 && f.Broker == "":
		return errors.New("--nodes above 1 needs --broker: nodes on their own embedded logs do not share channels")
	}
	if f.Broker != "" {
		u, err := url.Parse(f.Broker)
		if err != nil || u.Host == "" || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "nats") {
			return fmt.Errorf("--broker %q: want redis://host:port or nats://host:port", f.Broker)
		}
	}
	return nil
}

// check refuses combinations of flags that cannot run.
func (f *clusterFlags) check(b *benchFlags) error {
	switch {
	case f.CompareNodes && b.ServerURL != "":
		return errors.New("--compare-nodes starts its own nodes; it cannot be combined with --server-url")
	case f.CompareNodes && (f.Nodes < 2 || f.Broker == ""):
		return errors.New("--compare-nodes needs --nodes 2 or 3 and --broker")
	}
	return f.nodeFlags.check(b)
}

// compareNodes runs a scenario on one node, then on f.Nodes, both on
// f.Broker, and compares them.
func (f *clusterFlags) compareNodes(ctx context.Context, run func(ctx context.Context, nodes int) (bench.RampReport, error)) (reporter, error) {
	single, err := run(ctx, 1)
	if err != nil {
		return single, err
	}
	cluster, err := run(ctx, f.Nodes)
	if err != nil {
		return cluster, err
	}
	return bench.CompareNodes(single, cluster), nil
}

// brokerPrefix returns a broker key prefix of its own for one run.
func brokerPrefix() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("broker prefix: %w", err)
	}
	return "herald-bench-" + hex.EncodeToString(b[:]), nil
}

// memberRange is a --members value: MIN..MAX, or one number for rooms of
// one size.
type memberRange struct{ Min, Max int }

// UnmarshalText implements encoding.TextUnmarshaler, which kong uses.
func (m *memberRange) UnmarshalText(b []byte) error {
	s := string(b)
	lo, hi, ok := strings.Cut(s, "..")
	if !ok {
		hi = lo
	}
	var err1, err2 error
	m.Min, err1 = strconv.Atoi(strings.TrimSpace(lo))
	m.Max, err2 = strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || m.Min < 1 || m.Max < m.Min {
		return fmt.Errorf("members %q: want MIN..MAX with 1 ≤ MIN ≤ MAX, such as 2..10", s)
	}
	return nil
}
