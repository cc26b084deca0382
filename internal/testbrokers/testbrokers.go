// Package testbrokers starts the servers that Herald's brokers run on,
// for tests that need their own: a redis-server child process and an
// embedded NATS server with JetStream, each on a free port with its own
// data directory, so that a test may restart them without touching the
// shared servers of the machine.
//
// # Concurrency properties
//
// A server's methods are meant for the test goroutine; URL may be called
// from any goroutine.
package testbrokers

import (
	"fmt"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// StartRedis starts a redis-server for the test, with AOF fsynced on
// every write so that acknowledged writes survive its restart, and stops
// it when the test ends. It fails the test when redis-server is not
// installed.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	r, err := NewRedis(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Shutdown)
	return r
}

// Restart stops the server (SIGKILL when crash is set, else a clean
// shutdown) and starts it again on the same port and data.
func (s *RedisServer) Restart(t testing.TB, crash bool) {
	t.Helper()
	if crash {
		s.Kill()
	} else {
		s.Shutdown()
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
}

// NATS is an embedded NATS server with JetStream on file storage, a real
// server in the test's process.
type NATS struct {
	port int
	dir  string
	mu   sync.Mutex
	srv  *natsserver.Server // guarded by mu
}

// StartNATS starts a NATS server with JetStream for the test and shuts it
// down when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	port, err := freePortPair()
	if err != nil {
		t.Fatal(err)
	}
	n := &NATS{port: port, dir: t.TempDir()}
	n.start(t)
	t.Cleanup(n.Shutdown)
	return n
}

// URL is the server's nats:// address.
func (n *NATS) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *NATS) start(t testing.TB) {
	t.Helper()
	srv, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: n.port, JetStream: true, StoreDir: n.dir,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats server did not start")
	}
	n.mu.Lock()
	n.srv = srv
	n.mu.Unlock()
}

// Shutdown stops the server.
func (n *NATS) Shutdown() {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart shuts the server down and starts it again on the same port and
// store.
func (n *NATS) Restart(t testing.TB) {
	t.Helper()
	n.Shutdown()
	n.start(t)
}
