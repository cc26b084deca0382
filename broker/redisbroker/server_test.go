package redisbroker

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

// redisServer is a redis-server process that a test started, on a
// loopback port of its own, with its data in dir.
type redisServer struct {
	port   int
	dir    string
	extra  []string
	cmd    *exec.Cmd
	exited chan struct{}
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) url() string { return "redis://" + s.addr() }

// startRedis starts redis-server in dir on a free port, with the
// persistence the package doc recommends for no loss of acked data.
func startRedis(dir string, extra ...string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server is not on PATH; these tests run against a real Redis (apt-get install redis-server)")
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &redisServer{port: port, dir: dir, extra: extra}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// freePort returns a port that is free, and whose cluster bus port
// (+10000) is free too.
func freePort() (int, error) {
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

func (s *redisServer) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--save", "",
		"--logfile", filepath.Join(s.dir, "redis.log"),
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
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, lastLines(string(log), 5))
		default:
		}
		if v, err := s.do("PING"); err == nil && v == "PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("redis-server on port %d did not answer", s.port)
}

// shutdown stops the server the way an operator would (SHUTDOWN, which
// flushes the AOF) and waits for the process to exit. Redis refuses while
// it writes its first AOF (a replica right after its sync): it is asked
// again until it goes.
func (s *redisServer) shutdown() {
	deadline := time.After(10 * time.Second)
	for {
		_, _ = s.do("SHUTDOWN")
		select {
		case <-s.exited:
			return
		case <-deadline:
			s.kill()
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *redisServer) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// do sends one command on a fresh connection and returns the reply as a
// string (arrays are not needed here).
func (s *redisServer) do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.addr(), time.Second)
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

// killClients closes the connections named name, as a network blink
// would.
func (s *redisServer) killClients(name string) (int, error) {
	list, err := s.do("CLIENT", "LIST")
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
			if _, err := s.do("CLIENT", "KILL", "ID", id); err == nil {
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
