package featuretest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/testserver"
)

const clusterKey = "cluster-test-key-0123456789"

// apiGet reads path from srv's server API into v.
func apiGet(t *testing.T, srv *testserver.Server, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.HTTP+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+clusterKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// allChannels pages through srv's /api/channels?prefix=room. limit at a
// time and returns the channels and the last page's node counts.
func allChannels(t *testing.T, srv *testserver.Server, limit int) ([]api.ChannelInfo, int, int) {
	t.Helper()
	var out []api.ChannelInfo
	query := fmt.Sprintf("/api/channels?prefix=room.&limit=%d", limit)
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatalf("paging with limit %d does not end: %+v", limit, out)
		}
		var r api.ChannelsResponse
		apiGet(t, srv, query, &r)
		out = append(out, r.Channels...)
		if r.Next == nil {
			return out, r.Nodes, r.Answered
		}
		if len(r.Channels) != limit {
			t.Fatalf("a page of %d channels, limit %d, with a next page", len(r.Channels), limit)
		}
		query = fmt.Sprintf("/api/channels?prefix=room.&limit=%d&after=%s", limit, r.Next.After)
	}
}

// TestClusterChannels: /api/channels and /api/info on any node cover
// every node: subscribers summed per channel, pages by name over the
// merged list, connections summed; scope=node covers the node alone.
func TestClusterChannels(t *testing.T) {
	for _, kind := range testserver.Brokers {
		t.Run(kind, func(t *testing.T) {
			cfg := hubConfig()
			cfg.NodesInterval = 50 * time.Millisecond
			ns := testserver.StartNodes(t, kind, 2, testserver.NodesOptions{
				Options:     testserver.Options{Hub: cfg, APIKeys: []string{clusterKey}},
				PresenceTTL: 2 * time.Second,
			})
			n := len(ns.Servers)
			for _, srv := range ns.Servers {
				waitNodes(t, srv, n, 5*time.Second)
			}
			// alice and carol on the first node, bob on the second (the
			// first again with one node).
			subs := map[string][]string{
				"alice": {"room.1", "room.2"},
				"bob":   {"room.2", "room.3", "room.5"},
				"carol": {"room.4", "room.5"},
			}
			for i, name := range []string{"alice", "bob", "carol"} {
				c := user(t, ns.Node(i%2), name)
				for _, ch := range subs[name] {
					subscribe(t, c, ch, false)
				}
			}
			want := []api.ChannelInfo{{Name: "room.1", Subscribers: 1}, {Name: "room.2", Subscribers: 2}, {Name: "room.3", Subscribers: 1}, {Name: "room.4", Subscribers: 1}, {Name: "room.5", Subscribers: 2}}

			for i, srv := range ns.Servers {
				for _, limit := range []int{1, 2, 100} {
					t.Run(fmt.Sprintf("node %d limit %d", i, limit), func(t *testing.T) {
						got, nodes, answered := allChannels(t, srv, limit)
						if !slices.Equal(got, want) || nodes != n || answered != n {
							t.Fatalf("got %+v, nodes %d, answered %d; want %+v, nodes and answered %d", got, nodes, answered, want, n)
						}
					})
				}
				t.Run(fmt.Sprintf("node %d info", i), func(t *testing.T) {
					var info api.InfoResponse
					apiGet(t, srv, "/api/info", &info)
					if info.Connections != 3 || info.Authenticated != 3 || info.Subscriptions != 7 || info.Nodes != n || info.Answered != n {
						t.Fatalf("got %+v, want 3 connections, 7 subscriptions, nodes and answered %d", info, n)
					}
				})
			}
			if n == 1 {
				return
			}
			t.Run("scope=node", func(t *testing.T) {
				var r api.ChannelsResponse
				apiGet(t, ns.Servers[1], "/api/channels?prefix=room.&scope=node", &r)
				local := []api.ChannelInfo{{Name: "room.2", Subscribers: 1}, {Name: "room.3", Subscribers: 1}, {Name: "room.5", Subscribers: 1}}
				if !slices.Equal(r.Channels, local) || r.Nodes != 1 || r.Answered != 1 {
					t.Fatalf("got %+v, want %+v on one node", r, local)
				}
				var info api.InfoResponse
				apiGet(t, ns.Servers[1], "/api/info?scope=node", &info)
				if info.Connections != 1 || info.Subscriptions != 3 || info.Nodes != 1 || info.Answered != 1 {
					t.Fatalf("got %+v, want bob's connection and 3 subscriptions", info)
				}
			})
		})
	}
}

// TestClusterQueryStoppedPeer: a peer that is counted but gone leaves
// answered below nodes once the query timeout passes, and the query
// returns.
func TestClusterQueryStoppedPeer(t *testing.T) {
	for _, kind := range []string{"redis", "nats"} {
		t.Run(kind, func(t *testing.T) {
			cfg := hubConfig()
			// The count is read once at start and kept: the second node
			// counts two nodes after the first has gone.
			cfg.NodesInterval = time.Hour
			cfg.QueryTimeout = 300 * time.Millisecond
			ns := testserver.StartNodes(t, kind, 2, testserver.NodesOptions{
				Options:     testserver.Options{Hub: cfg},
				PresenceTTL: 2 * time.Second,
			})
			asker := ns.Servers[1]
			if got := asker.Hub.Stats.Nodes.Load(); got != 2 {
				t.Fatalf("the second node counts %d nodes, want 2", got)
			}
			c := user(t, asker, "dave")
			subscribe(t, c, "room.x", false)
			ns.Servers[0].Stop()

			type result struct {
				list              []hub.ChannelInfo
				nodes, answered   int
				stats             hub.ClusterStats
				listErr, statsErr error
			}
			done := make(chan result, 1)
			go func() {
				var r result
				r.list, r.nodes, r.answered, r.listErr = asker.Hub.ClusterChannels(context.Background(), "room.", "", 10)
				r.stats, r.statsErr = asker.Hub.ClusterStats(context.Background())
				done <- r
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the cluster query did not return")
			}
			if r.listErr != nil || r.statsErr != nil {
				t.Fatal(r.listErr, r.statsErr)
			}
			if want := []hub.ChannelInfo{{Name: "room.x", Subscribers: 1}}; !slices.Equal(r.list, want) || r.nodes != 2 || r.answered != 1 {
				t.Fatalf("channels: %+v, nodes %d, answered %d; want %+v, 2, 1", r.list, r.nodes, r.answered, want)
			}
			if s := r.stats; s.Connections != 1 || s.Nodes != 2 || s.Answered != 1 {
				t.Fatalf("stats %+v, want 1 connection, nodes 2, answered 1", s)
			}
		})
	}
}
