package featuretest

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/testserver"
)

// scrapeNodes reads herald_nodes from a node's /metrics.
func scrapeNodes(t *testing.T, srv *testserver.Server) int {
	t.Helper()
	resp, err := http.Get(srv.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "herald_nodes "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("herald_nodes %q: %v", v, err)
			}
			return int(n)
		}
	}
	t.Fatal("herald_nodes missing from /metrics")
	return 0
}

// waitNodes scrapes srv until herald_nodes is want, and fails after
// within.
func waitNodes(t *testing.T, srv *testserver.Server, want int, within time.Duration) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = scrapeNodes(t, srv); got == want {
			return
		}
	}
	t.Fatalf("%s: herald_nodes = %d, want %d", srv.HTTP, got, want)
}

// TestNodeCount checks herald_nodes: 1 for the embedded broker, every
// node of a shared broker on each of them, and one fewer on the other
// once a node stops.
func TestNodeCount(t *testing.T) {
	for _, kind := range testserver.Brokers {
		t.Run(kind, func(t *testing.T) {
			cfg := hubConfig()
			cfg.NodesInterval = 50 * time.Millisecond
			ns := startNodes(t, kind, cfg)
			for _, srv := range ns.Servers {
				waitNodes(t, srv, len(ns.Servers), 5*time.Second)
			}
			if kind == "embedded" {
				if len(ns.Servers) != 1 {
					t.Fatalf("embedded started %d nodes", len(ns.Servers))
				}
				return
			}
			if len(ns.Servers) != 2 {
				t.Fatalf("%s started %d nodes, want 2", kind, len(ns.Servers))
			}
			ns.Servers[0].Stop()
			waitNodes(t, ns.Servers[1], 1, 5*time.Second)
		})
	}
}
