package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldrt/herald/client/heraldclient"
	"github.com/heraldrt/herald/internal/testbrokers"
)

// clusterBroker is a broker server for the cluster tests, with a way to
// restart it mid-run.
type clusterBroker struct {
	name  string
	start func(t *testing.T) (url string, restart func(t *testing.T))
}

var clusterBrokers = []clusterBroker{
	{"redis", func(t *testing.T) (string, func(*testing.T)) {
		r := testbrokers.StartRedis(t)
		// A crash, not a clean shutdown: the AOF (fsync always) is what
		// keeps the acked messages.
		return r.URL(), func(t *testing.T) { r.Restart(t, true) }
	}},
	{"nats", func(t *testing.T) (string, func(*testing.T)) {
		n := testbrokers.StartNATS(t)
		return n.URL(), func(t *testing.T) { n.Restart(t) }
	}},
}

// TestCluster runs three nodes as child processes on one broker, with
// subscribers and publishers spread over them, and checks that every
// subscriber gets every message once, in the same order, with no gap:
// undisturbed, with a node killed mid-run, and with the broker's server
// restarted mid-run.
func TestCluster(t *testing.T) {
	faults := []struct {
		name string
		// at runs once when this many publishes are acked.
		at    int
		fault func(t *testing.T, nodes []*node, restartBroker func(*testing.T))
	}{
		{"undisturbed", 0, nil},
		{"node killed", 3000, func(t *testing.T, nodes []*node, _ func(*testing.T)) {
			if err := nodes[0].cmd.Process.Kill(); err != nil {
				t.Error(err)
			}
		}},
		{"broker restarted", 3000, func(t *testing.T, _ []*node, restart func(*testing.T)) { restart(t) }},
	}
	for _, b := range clusterBrokers {
		t.Run(b.name, func(t *testing.T) {
			for _, f := range faults {
				t.Run(f.name, func(t *testing.T) {
					url, restart := b.start(t)
					prefix := fmt.Sprintf("t%d", rand.Uint64())
					var nodes []*node
					for range 3 {
						nodes = append(nodes, startNode(t, t.TempDir(), "--broker", url, "--broker-prefix", prefix, "--presence-ttl", "3s"))
					}
					var fault func()
					if f.fault != nil {
						fault = func() { f.fault(t, nodes, restart) }
					}
					runCluster(t, nodes, f.at, fault)
				})
			}
		})
	}
}

// runCluster publishes 10,000 messages to one channel from a publisher on
// each node, with two subscribers on each node, running fault once at
// acks, and checks what every subscriber got.
func runCluster(t *testing.T, nodes []*node, at int, fault func()) {
	const (
		channel     = "chat.cluster"
		total       = 10000
		subsPerNode = 2
		inFlight    = 8 // concurrent publishes per publisher
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := func(i int, user string) *heraldclient.Client {
		var fallback []string
		for j := 1; j < len(nodes); j++ {
			fallback = append(fallback, nodes[(i+j)%len(nodes)].url())
		}
		tok := token(t, user)
		c, err := heraldclient.New(heraldclient.Config{
			URL: nodes[i].url(), FallbackURLs: fallback,
			Token:      func(context.Context) (string, error) { return tok, nil },
			BackoffMin: 20 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
			BufferSize: total,
			Logger:     slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Subscribers, from seq 0 so that none misses the first messages.
	type received struct {
		seqs  []uint64
		ids   []string
		count atomic.Int64 // len(seqs), for a report while it grows
	}
	got := make([]*received, len(nodes)*subsPerNode)
	var subsWG sync.WaitGroup
	zero := uint64(0)
	for i := range got {
		c := client(i%len(nodes), fmt.Sprintf("sub%d", i))
		sub, err := c.Subscribe(ctx, channel, heraldclient.SubscribeOptions{LastSeq: &zero})
		if err != nil {
			t.Fatal(err)
		}
		r := &received{}
		got[i] = r
		subsWG.Add(1)
		go func() {
			defer subsWG.Done()
			for m := range sub.Messages() {
				r.seqs = append(r.seqs, m.Seq)
				r.ids = append(r.ids, m.ID)
				r.count.Add(1)
				if m.Seq >= total {
					return
				}
			}
		}()
	}

	// Publishers, one per node, each with a few publishes in flight.
	var (
		acked     atomic.Int64
		faultOnce sync.Once
		mu        sync.Mutex
		bySeq     = map[uint64]string{}
		pubWG     sync.WaitGroup
		next      atomic.Int64
	)
	for i := range nodes {
		c := client(i, fmt.Sprintf("pub%d", i))
		for range inFlight {
			pubWG.Add(1)
			go func() {
				defer pubWG.Done()
				for {
					n := next.Add(1)
					if n > total {
						return
					}
					id := fmt.Sprintf("m-%d", n)
					ack, err := c.Publish(ctx, channel, "message.new", map[string]int64{"n": n}, heraldclient.WithID(id))
					if err != nil {
						t.Errorf("publish %s: %v", id, err)
						return
					}
					mu.Lock()
					if prev, dup := bySeq[ack.Seq]; dup && prev != id {
						t.Errorf("seq %d acked for %s and %s", ack.Seq, prev, id)
					}
					bySeq[ack.Seq] = id
					mu.Unlock()
					if fault != nil && acked.Add(1) == int64(at) {
						faultOnce.Do(fault)
					}
				}
			}()
		}
	}
	pubWG.Wait()
	if t.Failed() {
		return
	}
	if len(bySeq) != total {
		t.Fatalf("%d distinct seqs acked for %d publishes", len(bySeq), total)
	}
	waited := make(chan struct{})
	go func() { subsWG.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		for i, r := range got {
			t.Logf("subscriber %d has %d messages", i, r.count.Load())
		}
		t.Fatal("subscribers did not receive every message")
	}
	for i, r := range got {
		if len(r.seqs) != total {
			t.Fatalf("subscriber %d received %d messages, want %d", i, len(r.seqs), total)
		}
		for j, seq := range r.seqs {
			if seq != uint64(j+1) {
				t.Fatalf("subscriber %d: message %d has seq %d, want %d (a gap, a duplicate or a reordering)", i, j, seq, j+1)
			}
			if r.ids[j] != bySeq[seq] {
				t.Fatalf("subscriber %d: seq %d is %s, the ack gave it to %s", i, seq, r.ids[j], bySeq[seq])
			}
		}
	}
}

// TestClusterAPI: the server API of any node sees and acts on the whole
// cluster: presence lists users on every node, and a disconnect closes a
// user's connections wherever they are.
func TestClusterAPI(t *testing.T) {
	const key = "cluster-api-key-0123456789"
	for _, b := range clusterBrokers {
		t.Run(b.name, func(t *testing.T) {
			url, _ := b.start(t)
			prefix := fmt.Sprintf("t%d", rand.Uint64())
			var nodes []*node
			for range 3 {
				nodes = append(nodes, startNode(t, t.TempDir(), "--broker", url, "--broker-prefix", prefix, "--api-key", key))
			}
			api := func(method, path, body string) map[string]any {
				t.Helper()
				req, err := http.NewRequest(method, "http://"+nodes[0].addr+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var out map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("%s %s: %d %v %v", method, path, resp.StatusCode, out, err)
				}
				return out
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			clients := map[string]*heraldclient.Client{}
			for i, user := range []string{"alice", "bob"} {
				tok := token(t, user)
				c, err := heraldclient.New(heraldclient.Config{
					URL:    nodes[i+1].url(),
					Token:  func(context.Context) (string, error) { return tok, nil },
					Logger: slog.New(slog.DiscardHandler),
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				if err := c.Connect(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Subscribe(ctx, "chat.room", heraldclient.SubscribeOptions{}); err != nil {
					t.Fatal(err)
				}
				clients[user] = c
			}

			members := api("GET", "/api/presence?channel=chat.room", "")["members"].([]any)
			var users []string
			for _, m := range members {
				users = append(users, m.(map[string]any)["userId"].(string))
			}
			if strings.Join(users, ",") != "alice,bob" {
				t.Fatalf("presence from node 0 lists %v, want alice and bob (on nodes 1 and 2)", users)
			}

			out := api("POST", "/api/disconnect", `{"userId":"bob"}`)
			if out["disconnected"] != 0.0 || out["cluster"] != true {
				t.Fatalf("disconnect answered %v, want 0 here and the cluster told", out)
			}
			deadline := time.Now().Add(10 * time.Second)
			for clients["bob"].State() != heraldclient.StateClosed {
				if time.Now().After(deadline) {
					t.Fatalf("bob's client on node 2 is %v, want closed by the disconnect", clients["bob"].State())
				}
				time.Sleep(20 * time.Millisecond)
			}
			var ce *heraldclient.CloseError
			if err := clients["bob"].Err(); !errors.As(err, &ce) || ce.Code != 4003 {
				t.Fatalf("bob's client ended with %v, want close 4003", err)
			}
			if clients["alice"].State() != heraldclient.StateConnected {
				t.Fatalf("alice's client is %v; only bob was disconnected", clients["alice"].State())
			}
			// waitMembers waits until presence lists n members.
			waitMembers := func(n int, within time.Duration, after string) {
				t.Helper()
				deadline := time.Now().Add(within)
				for {
					members := api("GET", "/api/presence?channel=chat.room", "")["members"].([]any)
					if len(members) == n {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("presence still lists %v after %s", members, after)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			// Bob's presence goes with his connection.
			waitMembers(1, 10*time.Second, "bob's disconnect")
			// A node that drains takes its users out of presence at once,
			// not after its lease (30 s by default) lapses.
			if err := nodes[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitMembers(0, 5*time.Second, "alice's node drained")
		})
	}
}
