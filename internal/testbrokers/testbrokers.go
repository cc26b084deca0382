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
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Redis is a redis-server child process with AOF fsynced on every write,
// so that acknowledged writes survive its restart.
type Redis struct {
	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd // guarded by mu
}

// StartRedis starts a redis-server for the test and stops it when the
// test ends. It fails the test when redis-server is not installed.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
	}
	r := &Redis{port: freePort(t), dir: t.TempDir()}
	r.start(t)
	t.Cleanup(func() { r.stop() })
	return r
}

// URL is the server's redis:// address.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d", r.port) }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

func (r *Redis) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	waitListening(t, r.Addr(), func() string {
		b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
		return string(b)
	})
}

func (r *Redis) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	// SIGTERM: redis-server fsyncs the AOF and exits.
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (r *Redis) Kill() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// Restart stops the server (SIGKILL when crash is set, else a clean
// shutdown) and starts it again on the same port and data.
func (r *Redis) Restart(t testing.TB, crash bool) {
	t.Helper()
	if crash {
		r.Kill()
	} else {
		r.stop()
	}
	r.start(t)
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
	n := &NATS{port: freePort(t), dir: t.TempDir()}
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

// waitListening waits until addr accepts connections.
func waitListening(t testing.TB, addr string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// A PING proves the server answers, not just the port.
			fmt.Fprint(c, "PING\r\n")
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if line == "+PONG\r\n" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s did not come up: %v\n%s", addr, err, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
