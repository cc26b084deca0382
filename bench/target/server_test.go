package target

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as the child server: with TARGET_TEST_CHILD set
// it serves /readyz on the address in its arguments until SIGTERM.
func TestMain(m *testing.M) {
	if mode := os.Getenv("TARGET_TEST_CHILD"); mode != "" {
		os.Exit(child(mode, os.Args[len(os.Args)-1]))
	}
	goleak.VerifyTestMain(m)
}

func child(mode, addr string) int {
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, "child: refusing to start")
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ready")
	})}
	go func() { _ = srv.ListenAndServe() }()
	fmt.Fprintln(os.Stderr, "child: listening on", addr, "secret", os.Getenv("CHILD_SECRET"))
	<-ctx.Done()
	_ = srv.Close()
	return 0
}

func TestStartAndStopChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), ChildConfig{
		Command: []string{exe, "-test.run=^$", "--data={data}", "{addr}"},
		Env:     []string{"TARGET_TEST_CHILD=serve"},
		CPU:     0,
		Secret:  []byte("s3cret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !strings.HasPrefix(s.URL, "ws://127.0.0.1:") || s.PID == 0 || string(s.Secret) != "s3cret" {
		t.Fatalf("server %+v", s)
	}
	if _, err := Read(s.PID); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Exited():
	default:
		t.Fatal("child still running after Stop")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("temporary directory left behind: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestStartReportsAChildThatDies(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Start(context.Background(), ChildConfig{
		Command: []string{exe, "-test.run=^$", "{addr}"},
		Env:     []string{"TARGET_TEST_CHILD=fail"},
		CPU:     -1,
	})
	if err == nil || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("err = %v, want the child's exit with its output", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("took the whole start timeout to notice")
	}
}
