package redisbroker

import (
	"github.com/heraldrt/herald/internal/testbrokers"

	"context"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/broker/brokertest"
)

// harness runs the conformance suite on the servers given; restart, when
// set, restarts the (single) server.
func harness(servers []*testbrokers.RedisServer, url string, restart func(t *testing.T)) brokertest.Harness {
	h := brokertest.Harness{
		New: func(t *testing.T, opts brokertest.Options) herald.Broker {
			return newTestBroker(t, config(url, randomPrefix(), opts))
		},
		Peer: func(t *testing.T, b herald.Broker, opts brokertest.Options) herald.Broker {
			return newTestBroker(t, config(url, b.(*Broker).cfg.Prefix, opts))
		},
		Reopen: func(t *testing.T, b herald.Broker, opts brokertest.Options) herald.Broker {
			prefix := b.(*Broker).cfg.Prefix
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			return newTestBroker(t, config(url, prefix, opts))
		},
		Cut: func(t *testing.T, b herald.Broker) {
			name := ClientName(b.(*Broker).cfg.NodeID)
			killed := 0
			for _, s := range servers {
				n, err := s.KillClients(name)
				if err != nil {
					t.Fatalf("cut: %v", err)
				}
				killed += n
			}
			if killed == 0 {
				t.Fatalf("cut: no connection named %s", name)
			}
		},
	}
	if restart != nil {
		h.RestartServer = func(t *testing.T, _ herald.Broker) { restart(t) }
	}
	return h
}

func TestConformance(t *testing.T) {
	brokertest.Run(t, harness([]*testbrokers.RedisServer{srv}, srv.URL(), func(t *testing.T) {
		srv.Shutdown()
		if err := srv.Start(); err != nil {
			t.Fatalf("restarting redis-server: %v", err)
		}
	}))
}
