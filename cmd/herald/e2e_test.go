package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/internal/testserver"
	"github.com/heraldrt/herald/internal/wstest"
	"github.com/heraldrt/herald/protocol"
)

// binary is the herald command built once for the end-to-end tests, which
// run it as a child process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "herald")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build herald: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if err := goleak.Find(testserver.LeakOptions()...); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

const e2eSecret = "e2e-secret-0123456789abcdef0123456789"

// node is a herald serve child process.
type node struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	exited chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNode runs herald serve on dataDir and waits until it is healthy.
func startNode(t *testing.T, dataDir string, args ...string) *node {
	t.Helper()
	n := &node{addr: freeAddr(t), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	n.cmd = exec.Command(binary, append([]string{"serve", "--addr", n.addr, "--data", dataDir, "--log-level", "warn"}, args...)...)
	n.cmd.Env = append(os.Environ(), "HERALD_JWT_SECRET="+e2eSecret)
	n.cmd.Stderr = n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.exited <- n.cmd.Wait() }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			t.Logf("herald stderr:\n%s", n.stderr)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + n.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald did not become healthy: %v\n%s", err, n.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *node) url() string { return "ws://" + n.addr + "/ws" }

func token(t *testing.T, sub string) string {
	t.Helper()
	tok, err := auth.Mint([]byte(e2eSecret), sub, []string{"chat.>"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestKillNine: acked publishes survive SIGKILL of the server.
func TestKillNine(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	c := wstest.Auth(t, n.url(), token(t, "alice"))
	const total, batch = 1000, 50
	acked := map[uint64]string{}
	for sent := 0; sent < total; sent += batch {
		var b strings.Builder
		b.WriteByte('[')
		for i := range batch {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"type":"publish","id":"k%d","channel":"chat.kill","payload":{"n":%d}}`, sent+i, sent+i)
		}
		b.WriteByte(']')
		c.SendRaw([]byte(b.String()))
		for range batch {
			f := c.Expect(protocol.TypeAck)
			acked[f.Seq] = f.ID
		}
	}
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n.exited
	n.exited <- nil // for the cleanup

	n2 := startNode(t, dir)
	r := wstest.Auth(t, n2.url(), token(t, "bob"))
	r.Send(map[string]any{"type": "subscribe", "channel": "chat.kill", "lastSeq": 0})
	if f := r.Expect(protocol.TypeSubscribed); f.Seq != total || !f.Recovered {
		t.Fatalf("after restart: %+v, want head %d recovered", f, total)
	}
	for seq := uint64(1); seq <= total; seq++ {
		m := r.Expect(protocol.TypeMessage)
		if m.Seq != seq || m.ID != acked[seq] {
			t.Fatalf("replayed seq %d id %s, acked seq %d was %s", m.Seq, m.ID, seq, acked[seq])
		}
	}
	// A retry of an acked publish after the restart is still a duplicate.
	r.Send(map[string]any{"type": "publish", "id": acked[7], "channel": "chat.kill", "payload": 1})
	if f := r.Expect(protocol.TypeAck); f.Seq != 7 {
		t.Fatalf("retry after restart acked seq %d, want 7", f.Seq)
	}
}

// TestSigtermDrains: SIGTERM closes clients with 1012 and exits cleanly.
func TestSigtermDrains(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := wstest.Auth(t, n.url(), token(t, "alice"))
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	c.ExpectClose(protocol.CloseServiceRestart, 5*time.Second)
	select {
	case err := <-n.exited:
		n.exited <- err
		if err != nil {
			t.Fatalf("herald exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("herald did not exit after SIGTERM")
	}
}

// TestDevMode: without a secret, serve makes a development key that
// `herald token` uses.
func TestDevMode(t *testing.T) {
	dir := t.TempDir()
	n := startDevNode(t, dir)
	if !strings.Contains(n.stderr.String(), "DEVELOPMENT MODE") || !strings.Contains(n.stderr.String(), "herald token --sub alice") {
		t.Fatalf("dev mode is not announced:\n%s", n.stderr)
	}
	cmd := exec.Command(binary, "token", "--sub", "alice", "--channels", "chat.>", "--data", dir)
	cmd.Env = withoutEnv(os.Environ(), "HERALD_JWT_SECRET")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("herald token: %v", err)
	}
	c := wstest.Dial(t, n.url())
	c.Send(map[string]any{"type": "auth", "token": strings.TrimSpace(string(out))})
	if f := c.Expect(protocol.TypeAuthOK); f.UserID != "alice" {
		t.Fatalf("auth_ok = %+v", f)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a child writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}

// TestAPIKeyRotation: the server API takes the keys of --api-keys-file,
// and a SIGHUP makes a removed key stop working without a restart.
func TestAPIKeyRotation(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "api-keys")
	if err := os.WriteFile(keys, []byte("# rotation\nold-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, t.TempDir(), "--api-keys-file", keys)
	publish := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+n.addr+"/api/publish",
			strings.NewReader(`{"channel":"chat.api","payload":{"n":1}}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := publish("old-key-0123456789"); got != http.StatusOK {
		t.Fatalf("publish with the key: %d", got)
	}
	if got := publish("unknown"); got != http.StatusUnauthorized {
		t.Fatalf("publish with an unknown key: %d", got)
	}
	if err := os.WriteFile(keys, []byte("new-key-9876543210\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for publish("old-key-0123456789") != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the removed key still works after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := publish("new-key-9876543210"); got != http.StatusOK {
		t.Fatalf("publish with the new key: %d", got)
	}
}

// startDevNode runs `herald serve` in development mode (no key in the
// environment) on data directory dir until the test ends, and waits until
// it listens.
func startDevNode(t *testing.T, dir string) *node {
	t.Helper()
	n := &node{addr: freeAddr(t), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	n.cmd = exec.Command(binary, "serve", "--addr", n.addr, "--data", dir)
	n.cmd.Env = withoutEnv(os.Environ(), "HERALD_JWT_SECRET")
	n.cmd.Stderr = n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.exited <- n.cmd.Wait() }()
	t.Cleanup(func() { _ = n.cmd.Process.Kill(); <-n.exited })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(n.stderr.String(), "herald listening"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no start:\n%s", n.stderr)
		}
	}
	return n
}
