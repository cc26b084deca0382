package bench_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/heraldrt/herald/bench"
)

func TestSetupStartsSeveralNodes(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENCH_TEST_CHILD", "1")
	env, err := bench.Setup(context.Background(), bench.Options{
		ServerCommand: []string{exe, "-test.run=^$", "{addr}"},
		ServerCPU:     -1, Nodes: 2, Broker: "redis://user:secret@127.0.0.1:6379",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if env.Nodes() != 2 || len(env.Servers) != 2 || env.Server != env.Servers[0] {
		t.Fatalf("%d nodes", env.Nodes())
	}
	seen := map[string]bool{}
	for i, s := range env.Servers {
		if seen[s.URL] || s.PID == 0 || string(s.Secret) != string(env.Server.Secret) {
			t.Fatalf("node %d: %+v", i, s)
		}
		seen[s.URL] = true
		if env.NodeURL(i) != s.URL || env.NodeURL(i+2) != s.URL {
			t.Fatalf("client %d goes to %s, not node %d", i, env.NodeURL(i), i)
		}
	}
	sum, err := env.ServerSample()
	if err != nil {
		t.Fatal(err)
	}
	if sum.RSS <= 0 {
		t.Fatalf("sample %+v", sum)
	}
	// A node that dies is noticed.
	if err := syscall.Kill(env.Servers[1].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-env.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("Exited not closed after a node died")
	}
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	for i, s := range env.Servers {
		select {
		case <-s.Exited():
		default:
			t.Fatalf("node %d still running after Close", i)
		}
	}
}
