package redisbroker

import (
	"github.com/heraldrt/herald/internal/testbrokers"

	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/broker/brokertest"
)

// startCluster starts a Redis Cluster of three masters (no replicas) for
// t, assigning the slots and introducing the nodes by hand so that it
// needs redis-server only.
func startCluster(t *testing.T) []*testbrokers.RedisServer {
	t.Helper()
	const nodes = 3
	servers := make([]*testbrokers.RedisServer, nodes)
	for i := range servers {
		s, err := testbrokers.NewRedis(t.TempDir(), "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		servers[i] = s
	}
	for i, s := range servers {
		args := []string{"CLUSTER", "ADDSLOTS"}
		for slot := i * 16384 / nodes; slot < (i+1)*16384/nodes; slot++ {
			args = append(args, strconv.Itoa(slot))
		}
		if _, err := s.Do(args...); err != nil {
			t.Fatalf("CLUSTER ADDSLOTS: %v", err)
		}
	}
	for _, s := range servers[1:] {
		if _, err := servers[0].Do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(s.Port)); err != nil {
			t.Fatalf("CLUSTER MEET: %v", err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range servers {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(nodes)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster did not come up: %q, %v", info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return servers
}

// TestConformanceCluster runs the suite on a Redis Cluster, where every
// channel's keys and shard channel share a slot, node leases live in
// other slots, and pub/sub is sharded.
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starting a three-node Redis Cluster takes seconds; the full run (scripts/test.sh, CI) runs it")
	}
	servers := startCluster(t)
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = s.Addr()
	}
	url := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	brokertest.Run(t, harness(servers, url, nil))
}
