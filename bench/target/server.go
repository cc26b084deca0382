package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Placeholders that Start replaces in ChildConfig.Command.
const (
	PlaceholderAddr   = "{addr}"
	PlaceholderData   = "{data}"
	PlaceholderSecret = "{secret}"
)

// ChildConfig says how to start a server process. The zero value of each
// optional field is its documented default.
type ChildConfig struct {
	// Command is the program and its arguments. Start replaces {addr}
	// with a free 127.0.0.1 port, {data} with a fresh temporary directory
	// and {secret} with the key. Required.
	Command []string
	// Env is added to the environment the child inherits.
	Env []string
	// CPU pins the child to that core with taskset when taskset is
	// installed. Negative means no pinning.
	CPU int
	// Secret is the HS256 key. Empty means 32 random bytes, hex-encoded.
	Secret []byte
	// StartTimeout bounds the wait for /readyz. Zero means 20s.
	StartTimeout time.Duration
}

// Server is the server under test.
type Server struct {
	// URL is its WebSocket endpoint, ws://host:port/ws.
	URL string
	// HTTP is its base URL, http://host:port.
	HTTP string
	// PID is its process id, or 0 when unknown (nothing is measured
	// inside the server then).
	PID int
	// Secret is the key its tokens are signed with.
	Secret []byte
	// Pinned tells whether the child was pinned with taskset.
	Pinned bool

	cmd     *exec.Cmd
	dir     string
	log     *os.File
	exited  chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// Start starts a child server and waits until it answers /readyz. Its
// output goes to a log file in the temporary directory, of which
// LogTail shows the end. Stop it with Stop.
func Start(ctx context.Context, cfg ChildConfig) (*Server, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("target: no command")
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 20 * time.Second
	}
	if len(cfg.Secret) == 0 {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("target: key: %w", err)
		}
		cfg.Secret = []byte(hex.EncodeToString(b[:]))
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, fmt.Errorf("target: data directory: %w", err)
	}
	s := &Server{
		URL: "ws://" + addr + "/ws", HTTP: "http://" + addr, Secret: cfg.Secret,
		dir: dir, exited: make(chan struct{}),
	}
	args := make([]string, len(cfg.Command))
	for i, a := range cfg.Command {
		a = strings.ReplaceAll(a, PlaceholderAddr, addr)
		a = strings.ReplaceAll(a, PlaceholderData, filepath.Join(dir, "data"))
		args[i] = strings.ReplaceAll(a, PlaceholderSecret, string(cfg.Secret))
	}
	if cfg.CPU >= 0 {
		if ts, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{ts, "-c", strconv.Itoa(cfg.CPU)}, args...)
			s.Pinned = true
		}
	}
	if s.log, err = os.Create(filepath.Join(dir, "server.log")); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("target: log file: %w", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// Its own process group, so that a Ctrl-C meant for the bench does
	// not kill the server before the bench has read its figures.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = s.log.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("target: start %s: %w", args[0], err)
	}
	// taskset execs the server, so the pid is the server's.
	s.cmd, s.PID = cmd, cmd.Process.Pid
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, cfg.StartTimeout); err != nil {
		tail := s.LogTail(20)
		_ = s.Stop()
		return nil, fmt.Errorf("target: %w; its output ends:\n%s", err, tail)
	}
	return s, nil
}

// Attach describes a server that is already running at wsURL (its /ws
// endpoint). pid may be 0 when the process is not on this machine.
func Attach(wsURL string, pid int, secret []byte) (*Server, error) {
	u, err := url.Parse(wsURL)
	if err != nil || u.Scheme != "ws" || u.Host == "" {
		return nil, fmt.Errorf("target: server url %q: want ws://host:port/ws", wsURL)
	}
	if len(secret) == 0 {
		return nil, errors.New("target: a running server needs its --jwt-secret to mint tokens")
	}
	if pid != 0 {
		if _, err := ReadRSS(pid); err != nil {
			return nil, fmt.Errorf("target: --server-pid: %w", err)
		}
	}
	exited := make(chan struct{})
	return &Server{URL: wsURL, HTTP: "http://" + u.Host, PID: pid, Secret: secret, exited: exited}, nil
}

// Exited is closed if the child process ends; never for an attached
// server.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop stops a child: SIGTERM, then SIGKILL after 10s; and removes its
// temporary directory. It does nothing for an attached server. It may be
// called more than once.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
				s.stopErr = errors.New("target: server did not stop within 10s of SIGTERM; killed")
			}
		}
		_ = s.log.Close()
		if err := os.RemoveAll(s.dir); err != nil && s.stopErr == nil {
			s.stopErr = fmt.Errorf("target: remove %s: %w", s.dir, err)
		}
	})
	return s.stopErr
}

// LogTail returns the last n lines the child wrote, for error messages.
func (s *Server) LogTail(n int) string {
	if s.log == nil {
		return ""
	}
	b, err := os.ReadFile(s.log.Name())
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTP+"/readyz", nil)
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("server not ready after %v", timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a 127.0.0.1 address with a port free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("target: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}
