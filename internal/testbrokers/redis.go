package testbrokers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RedisServer is a redis-server process that a test started, on a
// loopback port of its own, with its data in dir.
type RedisServer struct {
	// Port is the server's port; Dir holds its data.
	Port   int
	Dir    string
	extra  []string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is the server's redis:// address.
func (s *RedisServer) URL() string { return "redis://" + s.Addr() }

// NewRedis starts redis-server in dir on a free port, with the
// persistence the package doc recommends for no loss of acked data.
func NewRedis(dir string, extra ...string) (*RedisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server is not on PATH; these tests run against a real Redis (apt-get install redis-server)")
	}
	var lastErr error
	for range 5 {
		port, err := freePortPair()
		if err != nil {
			return nil, err
		}
		s := &RedisServer{Port: port, Dir: dir, extra: extra}
		if lastErr = s.Start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// freePortPair returns a port that is free, and whose cluster bus port
// (+10000) is free too.
func freePortPair() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair")
}

// Start starts the server process again on its port and data, after
// Shutdown or Kill.
func (s *RedisServer) Start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--save", "",
		"--logfile", filepath.Join(s.Dir, "redis.log"),
		"--daemonize", "no",
		"--repl-diskless-sync-delay", "0",
	}, s.extra...)
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %s", s.Port, lastLines(string(log), 5))
		default:
		}
		if v, err := s.Do("PING"); err == nil && v == "PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill()
	return fmt.Errorf("redis-server on port %d did not answer", s.Port)
}

// Shutdown stops the server the way an operator would (SHUTDOWN, which
// flushes the AOF) and waits for the process to exit. Redis refuses while
// it writes its first AOF (a replica right after its sync): it is asked
// again until it goes.
func (s *RedisServer) Shutdown() {
	deadline := time.After(10 * time.Second)
	for {
		_, _ = s.Do("SHUTDOWN")
		select {
		case <-s.exited:
			return
		case <-deadline:
			s.Kill()
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *RedisServer) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Do sends one command on a fresh connection and returns the reply as a
// string (arrays are not needed here).
func (s *RedisServer) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// KillClients closes the connections named name, as a network blink
// would.
func (s *RedisServer) KillClients(name string) (int, error) {
	list, err := s.Do("CLIENT", "LIST")
	if err != nil {
		return 0, err
	}
	n := 0
	for line := range strings.Lines(list) {
		var id, cname string
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			} else if v, ok := strings.CutPrefix(f, "name="); ok {
				cname = v
			}
		}
		if cname == name && id != "" {
			if _, err := s.Do("CLIENT", "KILL", "ID", id); err == nil {
				n++
			}
		}
	}
	return n, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
